import type { Middleware } from 'koa';
import type { Logger } from 'pino';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** One field-level violation, as listed in a 400 problem's `errors`. */
export interface FieldViolation {
  /** Dotted path of the offending field, e.g. `email`. */
  field: string;
  /** The same location as a JSON Pointer fragment, e.g. `#/email`. */
  pointer: string;
  detail: string;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldViolation[];
}

/** Problem type URIs. They identify the kind of problem; they are not meant to be dereferenced. */
export const PROBLEM_TYPES = {
  invalidRequest: 'urn:signup-flow:problem:invalid-request',
  malformedJson: 'urn:signup-flow:problem:malformed-json',
  unsupportedMediaType: 'urn:signup-flow:problem:unsupported-media-type',
  payloadTooLarge: 'urn:signup-flow:problem:payload-too-large',
  notFound: 'urn:signup-flow:problem:not-found',
  conflict: 'urn:signup-flow:problem:conflict',
  unauthorized: 'urn:signup-flow:problem:unauthorized',
  methodNotAllowed: 'urn:signup-flow:problem:method-not-allowed',
  tooManyRequests: 'urn:signup-flow:problem:too-many-requests',
  internal: 'urn:signup-flow:problem:internal-error',
  unavailable: 'urn:signup-flow:problem:service-unavailable',
} as const;

/** An error that is answered with exactly the problem it carries. */
export interface ProblemErrorOptions extends ErrorOptions {
  /** Response headers the answer needs, e.g. `WWW-Authenticate` on a 401. */
  headers?: Record<string, string>;
}

export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly problem: ProblemDetails;
  readonly headers: Record<string, string>;

  constructor(problem: ProblemDetails, options?: ProblemErrorOptions) {
    super(problem.detail ?? problem.title, options);
    this.problem = problem;
    this.headers = options?.headers ?? {};
  }
}

export function isProblemError(error: unknown): error is ProblemError {
  return error instanceof ProblemError;
}

/** Errors from Koa and its ecosystem (http-errors, raw-body) carry `status` and `expose`. */
interface HttpError {
  status: number;
  expose?: boolean;
  message: string;
}

function isHttpError(error: unknown): error is HttpError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status?: unknown }).status === 'number'
  );
}

const PROBLEMS_BY_STATUS = {
  400: { type: PROBLEM_TYPES.invalidRequest, title: 'Bad request' },
  401: { type: PROBLEM_TYPES.unauthorized, title: 'Unauthorized' },
  404: { type: PROBLEM_TYPES.notFound, title: 'Not found' },
  405: { type: PROBLEM_TYPES.methodNotAllowed, title: 'Method not allowed' },
  409: { type: PROBLEM_TYPES.conflict, title: 'Conflict' },
  413: { type: PROBLEM_TYPES.payloadTooLarge, title: 'Payload too large' },
  415: { type: PROBLEM_TYPES.unsupportedMediaType, title: 'Unsupported media type' },
  503: { type: PROBLEM_TYPES.unavailable, title: 'Service unavailable' },
} as const satisfies Record<number, { type: string; title: string }>;

const INTERNAL = { type: PROBLEM_TYPES.internal, title: 'Internal server error' };

/** Maps any thrown error to a problem; only 4xx details are exposed (koa's `expose` idea). */
export function toProblem(error: unknown, instance: string): ProblemDetails {
  if (isProblemError(error)) return { ...error.problem, instance };
  if (isHttpError(error) && error.status >= 400 && error.status < 600) {
    const known =
      (PROBLEMS_BY_STATUS as Record<number, { type: string; title: string } | undefined>)[
        error.status
      ] ?? (error.status < 500 ? PROBLEMS_BY_STATUS[400] : INTERNAL);
    const expose = error.status < 500 && error.expose !== false;
    return {
      ...known,
      status: error.status,
      ...(expose ? { detail: error.message } : {}),
      instance,
    };
  }
  return { ...INTERNAL, status: 500, instance };
}

/**
 * The first middleware of every app: turns errors and unmatched routes into RFC 9457
 * `application/problem+json` answers, hides detail on 5xx and logs each server error once.
 */
export function problemDetails(logger: Logger): Middleware {
  return async function problemDetails(ctx, next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ProblemError({
          ...PROBLEMS_BY_STATUS[404],
          status: 404,
          detail: `no route for ${ctx.method} ${ctx.path}`,
        });
      }
      // A router that knows the path but not the method (501 for one it serves nowhere): either
      // way this resource does not allow it, and Allow says what it does allow (RFC 9110 §15.5.6).
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body === undefined) {
        throw new ProblemError(
          {
            type: PROBLEM_TYPES.methodNotAllowed,
            title: 'Method not allowed',
            status: 405,
            detail: `${ctx.method} is not allowed on ${ctx.path}`,
          },
          { headers: { Allow: ctx.response.get('Allow') } },
        );
      }
    } catch (error) {
      const problem = toProblem(error, ctx.path);
      if (problem.status >= 500) logger.error({ err: error, path: ctx.path }, 'request failed');
      ctx.status = problem.status;
      ctx.type = PROBLEM_CONTENT_TYPE;
      ctx.body = problem;
      if (isProblemError(error)) {
        ctx.set(error.headers);
      } else if (isHttpError(error) && 'headers' in error && typeof error.headers === 'object') {
        ctx.set(error.headers as Record<string, string>);
      }
    }
  };
}
