import SwaggerParser from '@apidevtools/swagger-parser';
import type Router from '@koa/router';
import { EMAIL_PATTERN } from '@signup-flow/events';
import { OPERATIONAL_PATHS } from '@signup-flow/service-runtime';
import { BROWSER_INSTALL_HINT, locateBrowser, renderedDom } from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { toolForTest } from '../../../test/k8s/support/tools.js';
import { apiDocsRoutes } from '../src/http/api-docs.js';
import { apiRoutes, type RoutesDeps } from '../src/http/routes.js';
import { type InProcessService, migratedDatabase, startApi } from './fixtures.js';

interface Document {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}

let api: InProcessService;
let document: Document;

beforeAll(async () => {
  api = await startApi((await migratedDatabase()).url);
  document = (await (await fetch(`${api.baseUrl}/openapi.json`)).json()) as Document;
});

/** `METHOD /path/{param}` for every route a router serves (HEAD is implied by GET). */
function served(router: Router): string[] {
  return router.stack.flatMap((layer) =>
    layer.methods
      .filter((method) => method !== 'HEAD')
      .map((method) => `${method} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`),
  );
}

describe('GET /openapi.json', () => {
  it('when fetched, then it is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('when compared with the routes the service serves, then each lists exactly the other’s operations', () => {
    const implemented = [
      // The routers' dependencies are only called when a request comes; none comes here.
      ...served(apiRoutes({} as RoutesDeps)),
      // The docs page's own script and style files are not API operations.
      ...served(apiDocsRoutes()).filter((route) => !/^GET \/docs\/./.test(route)),
      ...OPERATIONAL_PATHS.map((path) => `GET ${path}`),
    ];
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(implemented.sort());
  });

  it('when an operation can refuse its input or its caller, then the document lists that status with a problem+json body', () => {
    const statuses = (path: string, method: string) =>
      Object.keys(document.paths[path]?.[method]?.responses ?? {}).sort();
    expect(statuses('/v1/users', 'post')).toEqual(
      ['201', '400', '409', '413', '415', '500', '503'].sort(),
    );
    expect(statuses('/v1/sessions', 'post')).toEqual(
      ['200', '400', '401', '413', '415', '429', '500', '503'].sort(),
    );
    expect(statuses('/v1/users/{id}', 'get')).toEqual(['200', '401', '404', '500', '503'].sort());
    const problem = document.paths['/v1/sessions']?.post?.responses['429'] as {
      content: Record<string, unknown>;
      headers: Record<string, unknown>;
    };
    expect(Object.keys(problem.content)).toEqual(['application/problem+json']);
    expect(Object.keys(problem.headers)).toEqual(['Retry-After']);
  });

  it('when a request schema changes, then the document changes with it (it is generated from the same zod schemas)', () => {
    const signUp = document.paths['/v1/users']?.post as unknown as {
      requestBody: { content: { 'application/json': { schema: Record<string, unknown> } } };
    };
    const body = signUp.requestBody.content['application/json'].schema;
    expect(body).toMatchObject({
      type: 'object',
      required: ['email', 'password', 'name'],
      additionalProperties: false,
      properties: {
        email: { type: 'string', pattern: EMAIL_PATTERN.source, maxLength: 254 },
        password: { type: 'string', minLength: 12, maxLength: 256 },
        name: { type: 'string', maxLength: 100 },
      },
    });
  });
});

describe('GET /docs', () => {
  const browser = locateBrowser();

  it('when opened in a real browser, then it draws every operation from the document, with no asset from elsewhere', async (context) => {
    const chromium = toolForTest(context, 'headless Chromium', browser, BROWSER_INSTALL_HINT);
    const page = await (await fetch(`${api.baseUrl}/docs`)).text();
    for (const source of page.matchAll(/(?:src|href)="([^"]+)"/g)) {
      expect(source[1]).toMatch(/^\/docs\//);
    }
    const dom = await renderedDom(chromium, `${api.baseUrl}/docs`);
    expect(dom).toContain('signup-flow user-service');
    for (const path of ['/v1/users', '/v1/sessions', '/v1/users/{id}']) expect(dom).toContain(path);
  });
});
