/**
 * Coordinator-level typed errors the control API maps to HTTP statuses (beside `NotFoundError` → 404 and
 * `ConfigError` → 400 from shared/errors.ts).
 */
import { CoopError } from "../../shared/mod.ts";

/** The request conflicts with the target's state, e.g. stopping a run that already ended (HTTP 409). */
export class ConflictError extends CoopError {
  override name = "ConflictError";
}
