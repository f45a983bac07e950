import type { Middleware } from 'koa';
import type { Registry } from 'prom-client';
import { exposeMetrics } from './metrics.js';

export type DependencyState = 'up' | 'down';

export interface DependencyCheck {
  name: string;
  /** A dependency the service cannot serve without; when it is down, `/readyz` answers 503. */
  critical: boolean;
  check: () => Promise<boolean> | boolean;
}

export interface OperationalEndpointsOptions {
  registry: Registry;
  dependencies: DependencyCheck[];
  /** True once shutdown began: readiness fails so no new traffic is routed here. */
  isDraining: () => boolean;
  /** A check that hangs counts as down after this long. @default 2000 */
  checkTimeoutMs?: number;
}

async function probe(dependency: DependencyCheck, timeoutMs: number): Promise<DependencyState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    const up = await Promise.race([Promise.resolve().then(dependency.check), timeout]);
    return up ? 'up' : 'down';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** The paths {@link operationalEndpoints} answers (GET and HEAD only). */
export const OPERATIONAL_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

/**
 * `GET /healthz` (liveness), `GET /readyz` (readiness with per-dependency state), `GET /metrics`
 * (the classic Prometheus text format, or OpenMetrics with exemplars when the scraper prefers it).
 */
export function operationalEndpoints(options: OperationalEndpointsOptions): Middleware {
  const timeoutMs = options.checkTimeoutMs ?? 2000;
  return async function operationalEndpoints(ctx, next) {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      if (!(OPERATIONAL_PATHS as readonly string[]).includes(ctx.path)) return next();
      // The problem middleware answers this as a 405 problem.
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      return;
    }
    switch (ctx.path) {
      case '/healthz':
        ctx.body = { status: 'ok' };
        return;
      case '/readyz': {
        const states = await Promise.all(
          options.dependencies.map(async (dependency) => ({
            dependency,
            state: await probe(dependency, timeoutMs),
          })),
        );
        const blocked = states.some(
          ({ dependency, state }) => dependency.critical && state === 'down',
        );
        const draining = options.isDraining();
        ctx.status = blocked || draining ? 503 : 200;
        ctx.body = {
          status: draining ? 'draining' : blocked ? 'not ready' : 'ready',
          dependencies: Object.fromEntries(
            states.map(({ dependency, state }) => [dependency.name, state]),
          ),
        };
        return;
      }
      case '/metrics': {
        const { contentType, body } = await exposeMetrics(options.registry, ctx.get('Accept'));
        ctx.vary('Accept');
        ctx.type = contentType;
        ctx.body = body;
        return;
      }
      default:
        return next();
    }
  };
}
