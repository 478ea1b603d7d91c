/**
 * The interactive API reference at `/docs`: Swagger UI (the `swagger-ui-dist` npm package, served from
 * node_modules, so the page works offline and loads nothing from a CDN) pointed at `/openapi.json`. Its
 * "Authorize" button takes the bearer token; "Try it out" sends real requests to this coordinator.
 */
import { Hono } from "hono";
import { NotFoundError } from "../shared/mod.ts";

const DIST = new URL("../node_modules/swagger-ui-dist/", import.meta.url);

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Coop control API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

const INIT =
  `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true });\n`;

/** The `/docs` router: the page, its initializer, and Swagger UI's bundle and stylesheet. */
export function referenceRouter(): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html(PAGE));
  app.get("/init.js", (c) => c.body(INIT, 200, { "content-type": "text/javascript; charset=utf-8" }));
  for (const [name, type] of [["swagger-ui-bundle.js", "text/javascript"], ["swagger-ui.css", "text/css"]]) {
    let cached: Uint8Array | undefined;
    app.get(`/${name}`, async (c) => {
      try {
        cached ??= await Deno.readFile(new URL(name!, DIST));
      } catch (error) {
        throw new NotFoundError(`API reference file ${name} is missing (${(error as Error).message})`);
      }
      return c.body(cached as Uint8Array<ArrayBuffer>, 200, {
        "content-type": `${type}; charset=utf-8`,
        "cache-control": "max-age=3600",
      });
    });
  }
  return app;
}
