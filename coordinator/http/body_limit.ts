/**
 * Request-body checks of the control API as a small middleware factory (mergeable with other hardening
 * middleware): bodies over `maxBytes` get a 413 that names the limit (Hono's maintained `bodyLimit` does the
 * counting, streamed bodies included). Malformed JSON is the routes' validator's 400 ("Malformed JSON in request
 * body"), and a body of the wrong shape a 400 naming the field (`validationHook` in api.ts).
 */
import type { Context, MiddlewareHandler } from "hono";
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
  const tooLarge = (c: Context) => {
    const length = c.req.header("content-length");
    const size = length === undefined ? "" : ` (${length} bytes declared)`;
    return c.json({
      error: { name: "PayloadTooLargeError", message: `Request body too large${size}: the limit is ${maxBytes} bytes` },
    }, 413);
  };
  const counted = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async function bodyLimits(c, next) {
    if (Number(c.req.header("content-length") ?? 0) > maxBytes) return tooLarge(c);
    if (c.req.raw.body !== null && c.req.raw.headers.has("content-length")) {
      // Hono's bodyLimit trusts a declared length; dropping it makes it count the bytes that actually arrive, so a
      // body longer than it says cannot slip past the cap (bodies are small: counting costs nothing).
      const headers = new Headers(c.req.raw.headers);
      headers.delete("content-length");
      c.req.raw = new Request(c.req.raw, { headers });
    }
    return await counted(c, next);
  };
}
