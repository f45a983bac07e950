import Koa from 'koa';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type DependencyCheck, operationalEndpoints } from './health.js';
import { requestMetrics } from './metrics.js';
import { problemDetails } from './problem.js';

export interface ServiceAppOptions {
  logger: Logger;
  registry: Registry;
  /** What `/readyz` checks; critical ones fail readiness when down. */
  dependencies: DependencyCheck[];
  /** True once shutdown began. */
  isDraining: () => boolean;
}

/**
 * The Koa app every service starts from: request metrics outermost (they see the final status),
 * then RFC 9457 problems for any error, then `/healthz`, `/readyz` and `/metrics`. A service adds
 * its own routes after these.
 */
export function createServiceApp(options: ServiceAppOptions): Koa {
  const app = new Koa();
  app.use(requestMetrics(options.registry));
  app.use(problemDetails(options.logger));
  app.use(
    operationalEndpoints({
      registry: options.registry,
      dependencies: options.dependencies,
      isDraining: options.isDraining,
    }),
  );
  return app;
}
