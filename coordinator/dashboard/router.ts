/**
 * The live dashboard, served at `/` of the control API with no build step: one HTML page, one ES module and a
 * stylesheet from `static/`, plus the browser build of `eventsource-parser` (the same SSE parser the CLI uses)
 * from node_modules. The page itself holds no data; everything it shows comes from `/v1/*` with the bearer
 * token the user enters (kept in localStorage), so it has exactly the API's auth.
 */
import { Hono } from "hono";
import { NotFoundError } from "../../shared/mod.ts";

const STATIC = new URL("./static/", import.meta.url);
const PARSER = new URL("../../node_modules/eventsource-parser/dist/", import.meta.url);

const FILES: Record<string, { url: URL; type: string }> = {
  "/": { url: new URL("index.html", STATIC), type: "text/html; charset=utf-8" },
  "/dashboard/app.js": { url: new URL("app.js", STATIC), type: "text/javascript; charset=utf-8" },
  "/dashboard/charts.js": { url: new URL("charts.js", STATIC), type: "text/javascript; charset=utf-8" },
  "/dashboard/style.css": { url: new URL("style.css", STATIC), type: "text/css; charset=utf-8" },
};
for (const name of ["stream.js", "parse.js", "errors.js"]) {
  FILES[`/dashboard/vendor/eventsource-parser/${name}`] = {
    url: new URL(name, PARSER),
    type: "text/javascript; charset=utf-8",
  };
}

/** Builds the router serving the dashboard's files (mount it at `/`). */
export function dashboardRouter(): Hono {
  const app = new Hono();
  const cache = new Map<string, string>();
  for (const [path, file] of Object.entries(FILES)) {
    app.get(path, async (c) => {
      let body = cache.get(path);
      if (body === undefined) {
        try {
          body = await Deno.readTextFile(file.url);
        } catch (error) {
          throw new NotFoundError(`Dashboard file ${path} is missing (${(error as Error).message})`);
        }
        cache.set(path, body);
      }
      c.header("content-type", file.type);
      c.header("cache-control", "no-cache");
      // The page runs only its own scripts and talks only to this origin.
      c.header("content-security-policy", "default-src 'self'; style-src 'self'; img-src 'self' data:");
      return c.body(body);
    });
  }
  return app;
}
