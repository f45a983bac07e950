import type { Logger } from '@signup-flow/service-runtime';
import {
  type DependencyCheck,
  operationalEndpoints,
  problemDetails,
} from '@signup-flow/service-runtime';
import Koa from 'koa';
import type { Registry } from 'prom-client';

export interface AppDeps {
  logger: Logger;
  registry: Registry;
  /** NATS and PostgreSQL are critical; others are reported only. */
  dependencies: DependencyCheck[];
  isDraining: () => boolean;
}

/** The messaging-service's HTTP side: `/healthz`, `/readyz` and `/metrics` only. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.use(problemDetails(deps.logger));
  app.use(
    operationalEndpoints({
      registry: deps.registry,
      dependencies: deps.dependencies,
      isDraining: deps.isDraining,
    }),
  );
  return app;
}
