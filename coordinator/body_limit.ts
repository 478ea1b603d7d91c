/**
 * Request-body checks of the control API as a small middleware factory (mergeable with other hardening
 * middleware): bodies over `maxBytes` get a 413 that names the limit (Hono's maintained `bodyLimit` does the
 * counting, streamed bodies included). Malformed JSON is the routes' validator's 400 ("Malformed JSON in request
 * body"), and a body of the wrong shape a 400 naming the field (`validationHook` in api.ts).
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";

/** Default cap on a request body: a run config is a few KB; 1 MiB leaves room for inline YAML with comments. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Options for {@link bodyLimits}. */
export interface BodyLimitOptions {
  /** Largest accepted body (bytes). Default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBytes?: number;
}

/** Middleware rejecting bodies larger than `maxBytes` with 413 `{error: {name: "PayloadTooLargeError", ...}}`. */
export function bodyLimits(options: BodyLimitOptions = {}): MiddlewareHandler {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => {
      const length = c.req.header("content-length");
      const size = length === undefined ? "" : ` (${length} bytes)`;
      return c.json({
        error: {
          name: "PayloadTooLargeError",
          message: `Request body too large${size}: the limit is ${maxBytes} bytes`,
        },
      }, 413);
    },
  });
}
