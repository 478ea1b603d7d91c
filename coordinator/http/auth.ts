/** Bearer-token auth for the control API, and the token's one source (COOP_API_TOKEN). */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { ConfigError } from "../../shared/mod.ts";
import { errorBody } from "./responses.ts";

/** Options for {@link bearerAuth}. */
export interface BearerAuthOptions {
  token: string;
}

/**
 * Middleware requiring `Authorization: Bearer <token>`. Compares SHA-256 digests with `timingSafeEqual`, so
 * neither the token's content nor its length leaks through response timing.
 */
export function bearerAuth(options: BearerAuthOptions): MiddlewareHandler {
  if (typeof options.token !== "string" || options.token.trim() === "") {
    throw new ConfigError("Invalid API token: it must be a non-empty string");
  }
  const expected = digest(options.token);
  return async function bearerAuth(c, next) {
    const header = c.req.header("authorization");
    const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match === null) return unauthorized(c, "Missing bearer token: send the header 'Authorization: Bearer <token>'");
    if (!timingSafeEqual(digest(match[1]!), expected)) return unauthorized(c, "Invalid bearer token");
    await next();
  };
}

/** The API token from COOP_API_TOKEN: undefined when unset; ConfigError when set but blank. */
export function apiTokenFromEnv(env: { get(name: string): string | undefined } = Deno.env): string | undefined {
  const token = env.get("COOP_API_TOKEN");
  if (token === undefined) return undefined;
  if (token.trim() === "") {
    throw new ConfigError("Invalid COOP_API_TOKEN: it is set but empty; unset it to disable auth or give a token");
  }
  return token;
}

function digest(value: string): Uint8Array {
  return createHash("sha256").update(value, "utf8").digest();
}

function unauthorized(c: Context, message: string): Response {
  c.header("WWW-Authenticate", 'Bearer realm="coop"');
  return c.json(errorBody("UnauthorizedError", message), 401);
}
