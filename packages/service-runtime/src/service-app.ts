import Koa from 'koa';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { requestMetrics } from './metrics.js';
import { type DependencyCheck, operationalEndpoints } from './operational-endpoints.js';
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
 * On every answer, errors included: no browser may guess a content type from the body (a JSON
 * answer rendered as HTML). Koa sends no `X-Powered-By`, so there is nothing to remove.
 */
const securityHeaders: Koa.Middleware = async (ctx, next) => {
  ctx.set('X-Content-Type-Options', 'nosniff');
  await next();
};

/**
 * The Koa app every service starts from: security headers and request metrics outermost (they see the final status),
 * then RFC 9457 problems for any error, then `/healthz`, `/readyz` and `/metrics`. A service adds
 * its own routes after these.
 */
export function createServiceApp(options: ServiceAppOptions): Koa {
  const app = new Koa();
  // What Koa cannot answer any more (a client gone, a timed-out request): into the JSON log,
  // instead of Koa's default, a plain-text stack on stderr.
  app.on('error', (error: unknown) => {
    options.logger.warn({ err: error }, 'HTTP exchange failed after its answer began');
  });
  app.use(securityHeaders);
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
