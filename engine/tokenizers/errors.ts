/** The tokenizers' error type, in a file of its own so the template renderer and the contract can share it. */
import { CoopError } from "../../shared/mod.ts";

/** Raised when text or ids cannot be converted. */
export class TokenizerError extends CoopError {
  override name = "TokenizerError";
}
