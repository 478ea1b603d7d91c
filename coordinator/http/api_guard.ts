/**
 * The control API's outer guard: what a request must be before any route sees it, and where the API may listen.
 *
 * - Requests with a body must say `Content-Type: application/json`. A browser can send a cross-site `text/plain`
 *   (or form) POST without a preflight, so accepting those would let any web page a user opens drive the cluster
 *   (CSRF); a cross-site `application/json` POST needs a CORS preflight, which this API never grants.
 * - (Body size is capped by body_limit.ts, mounted beside this in api.ts.)
 * - Without a token the API listens on loopback only: {@link apiBindHost} refuses another address, saying why.
 */
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../../shared/mod.ts";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

/** Middleware refusing request bodies that are not JSON (415). */
export function apiGuard(): MiddlewareHandler {
  return async function apiGuard(c, next) {
    if (!BODY_METHODS.has(c.req.method)) return await next();
    const type = c.req.header("content-type");
    // Body-less requests (`POST /v1/runs/:id/stop`) need no type; anything carrying bytes must be JSON. A client
    // that says `Content-Length: 0` (fetch and curl without data) carries none, though the server hands it a stream.
    const empty = c.req.header("content-length") === "0" && !c.req.raw.headers.has("transfer-encoding");
    const hasBody = type !== undefined || (c.req.raw.body !== null && !empty);
    if (hasBody && (type === undefined || !JSON_TYPE.test(type))) {
      throw new HTTPException(415, {
        message: `Unsupported Content-Type "${type ?? "(none)"}": send JSON with 'Content-Type: application/json'`,
      });
    }
    await next();
  };
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * The address the API listens on: `requested`, or loopback when none is given and there is no token, or all
 * interfaces when there is one. Without a token a non-loopback address is a ConfigError: anyone who reaches it
 * could start runs that read and write the coordinator's files.
 */
export function apiBindHost(requested: string | undefined, token: string | undefined): string {
  if (token !== undefined) return requested ?? "0.0.0.0";
  if (requested === undefined) return "127.0.0.1";
  if (!isLoopback(requested)) {
    throw new ConfigError(
      `Refusing to serve the API on "${requested}" without a token: set COOP_API_TOKEN, or listen on 127.0.0.1`,
    );
  }
  return requested;
}
