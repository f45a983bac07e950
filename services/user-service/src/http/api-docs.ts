import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Router from '@koa/router';
import { openApiDocument } from './openapi.js';

/**
 * The Swagger UI files the docs page loads, served from the npm package (no CDN). Found by path:
 * importing the package would load its 1.5 MB browser bundle into the service's heap (11 MiB).
 */
const SWAGGER_UI_DIR = dirname(
  createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'),
);

const ASSETS = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
} as const;

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>signup-flow user-service API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css">
  </head>
  <body>
    <div id="api"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// A file of its own, not an inline script, so a Content-Security-Policy without 'unsafe-inline' holds.
const INIT = "window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api' });\n";

/** `GET /openapi.json` (the OpenAPI 3.1 document) and `GET /docs` (Swagger UI over it). */
export function apiDocsRoutes(): Router {
  const router = new Router();
  const document = JSON.stringify(openApiDocument());
  const assets = new Map<string, Promise<Buffer>>();
  const asset = (name: keyof typeof ASSETS) => {
    let content = assets.get(name);
    if (!content) {
      content = readFile(join(SWAGGER_UI_DIR, name));
      assets.set(name, content);
    }
    return content;
  };

  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = document;
  });
  router.get('/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = PAGE;
  });
  router.get('/docs/init.js', (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.body = INIT;
  });
  for (const [name, type] of Object.entries(ASSETS)) {
    router.get(`/docs/${name}`, async (ctx) => {
      ctx.type = type;
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.body = await asset(name as keyof typeof ASSETS);
    });
  }
  return router;
}
