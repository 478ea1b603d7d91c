/**
 * The schema pieces every Coop router's OpenAPI routes share (zod, extended with `.openapi()` by
 * @hono/zod-openapi): the error body, an id path parameter, and the response helpers.
 */
import { z } from "@hono/zod-openapi";

/** Every failure: `{error: {name, message}}`. */
export const ErrorBody = z.object({
  error: z.object({
    name: z.string().openapi({ example: "NotFoundError" }),
    message: z.string().openapi({ example: 'Run "x" does not exist' }),
  }),
}).openapi("Error");

export const IdParam = z.object({
  id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }),
});

/** Error responses by status, for the routes' `responses`. */
export function errors(...statuses: (400 | 401 | 404 | 409 | 413)[]) {
  const text: Record<number, string> = {
    400: "Bad request (the message names the field)",
    401: "Missing or wrong bearer token",
    404: "Unknown id (the message names it)",
    409: "Conflicts with the run's state",
    413: "Request body too large",
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: text[s]!, content: { "application/json": { schema: ErrorBody } } }]),
  );
}

/** A JSON response. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}
