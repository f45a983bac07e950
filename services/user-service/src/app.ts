import { createServiceApp, type DependencyCheck, type Logger } from '@signup-flow/service-runtime';
import type Koa from 'koa';
import type { Registry } from 'prom-client';
import { apiDocsRoutes } from './http/api-docs.js';
import { apiRoutes, domainErrors, type RoutesDeps } from './http/routes.js';

export interface AppDeps extends RoutesDeps {
  logger: Logger;
  registry: Registry;
  dependencies: DependencyCheck[];
  isDraining: () => boolean;
  /** Take the client's address from X-Forwarded-For (behind a proxy that sets it). */
  trustProxy?: boolean;
}

/** The user-service's HTTP API, without listening (tests drive `app.callback()`). */
export function createApp(deps: AppDeps): Koa {
  const app = createServiceApp(deps);
  app.proxy = deps.trustProxy ?? false;
  const routes = apiRoutes(deps);
  app.use(domainErrors);
  const docs = apiDocsRoutes();
  app.use(docs.routes());
  app.use(docs.allowedMethods());
  app.use(routes.routes());
  app.use(routes.allowedMethods());
  return app;
}
