/**
 * The JSON error contract every Coop HTTP router shares: a failure is `{error: {name, message}}` with the status
 * its typed error maps to, and a request that fails validation gets a 400 naming the field.
 */
import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConfigError, createLogger, NotFoundError } from "../../shared/mod.ts";
import { ConflictError } from "./errors.ts";

/** JSON error body of every failed request. */
export interface ApiErrorBody {
  error: { name: string; message: string };
}

/** An error body. */
export function errorBody(name: string, message: string): ApiErrorBody {
  return { error: { name, message } };
}

/** Turns a failed request validation into a 400 naming the field (query parameter or body path). */
export function validationHook(
  result: { success: boolean; target: string; error?: { issues: z.core.$ZodIssue[] } },
): void {
  if (result.success) return;
  const issue = result.error!.issues[0]!;
  if (result.target === "query") throw invalidQuery(issue);
  throw new HTTPException(400, {
    message: `Invalid request ${result.target}: ${issueField(issue) || "body"}: ${issue.message}`,
  });
}

/** A new router whose request validation fails with {@link validationHook}'s 400s. */
export function openApiRouter(): OpenAPIHono {
  return new OpenAPIHono({ defaultHook: validationHook });
}

/** Raises a 400 HTTPException naming the bad field when `c`'s query does not match `schema`. */
export function parseQuery<T extends z.ZodType>(schema: T, c: Context): z.infer<T> {
  const parsed = schema.safeParse(c.req.query());
  if (parsed.success) return parsed.data;
  throw invalidQuery(parsed.error.issues[0]!);
}

function invalidQuery(issue: z.core.$ZodIssue): HTTPException {
  return new HTTPException(400, { message: `Invalid query parameter "${issueField(issue) ?? "?"}": ${issue.message}` });
}

/** The field an issue is about: its path, or the unknown keys of a strict object. */
function issueField(issue: z.core.$ZodIssue): string | undefined {
  return issue.path.length > 0 ? issue.path.join(".") : (issue as { keys?: string[] }).keys?.join(", ");
}

const STATUS_NAMES: Record<number, string> = {
  400: "BadRequestError",
  401: "UnauthorizedError",
  403: "ForbiddenError",
  404: "NotFoundError",
  409: "ConflictError",
  413: "PayloadTooLargeError",
  415: "UnsupportedMediaTypeError",
  422: "UnprocessableEntityError",
  503: "UnavailableError",
};

const log = createLogger({ component: "api" });

/** Turns any thrown value into the JSON error response; exported so routers with their own onError can reuse it. */
export function errorResponse(error: unknown, c: Context): Response {
  if (error instanceof HTTPException) {
    const name = STATUS_NAMES[error.status] ?? "HttpError";
    return c.json(errorBody(name, error.message || `HTTP ${error.status}`), error.status);
  }
  let status: ContentfulStatusCode = 500;
  if (error instanceof NotFoundError) status = 404;
  else if (error instanceof ConflictError) status = 409;
  else if (error instanceof ConfigError) status = 400;
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  // Any 500 is the server's fault, typed or not: keep a trace of it beside the JSON the client gets.
  if (status === 500) {
    log.error(`API handler failed: ${name}: ${message}`, { stack: error instanceof Error ? error.stack : undefined });
  }
  return c.json(errorBody(name, message), status);
}
