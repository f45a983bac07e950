import Router from '@koa/router';
import { PROBLEM_TYPES, type ProblemDetails, ProblemError } from '@signup-flow/service-runtime';
import type { Middleware } from 'koa';
import { deleteUser } from '../domain/delete-user.js';
import {
  EmailTakenError,
  InvalidCredentialsError,
  TooManyLoginFailuresError,
  UserNotFoundError,
} from '../domain/errors.js';
import { getUser } from '../domain/get-user.js';
import { type LogInDeps, logIn } from '../domain/log-in.js';
import { type SignUpDeps, signUp } from '../domain/sign-up.js';
import type { TokenVerifier } from '../domain/token-verifier.js';
import { type AuthenticatedState, bearerAuth, unauthorized } from './bearer-auth.js';
import { parseRequest, readJsonBody } from './json-request.js';
import { logInRequestSchema, signUpRequestSchema } from './request-schemas.js';

export interface RoutesDeps extends SignUpDeps, LogInDeps {
  verifyToken: TokenVerifier;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const PROBLEMS_BY_ERROR = [
  [
    EmailTakenError,
    {
      type: PROBLEM_TYPES.conflict,
      title: 'Email already registered',
      status: 409,
      detail: 'a user with this email already exists',
    },
  ],
  [
    InvalidCredentialsError,
    {
      type: PROBLEM_TYPES.unauthorized,
      title: 'Invalid credentials',
      status: 401,
      detail: 'invalid email or password',
    },
  ],
  [UserNotFoundError, { type: PROBLEM_TYPES.notFound, title: 'User not found', status: 404 }],
] as const satisfies ReadonlyArray<readonly [new (...args: never[]) => Error, ProblemDetails]>;

/** Maps domain errors to problems; anything else goes on to the generic 500. */
export const domainErrors: Middleware = async (_ctx, next) => {
  try {
    await next();
  } catch (error) {
    if (error instanceof TooManyLoginFailuresError) {
      throw new ProblemError(
        {
          type: PROBLEM_TYPES.tooManyRequests,
          title: 'Too many failed logins',
          status: 429,
          detail: `too many failed logins; retry in ${error.retryAfterSeconds} s`,
        },
        { cause: error, headers: { 'Retry-After': String(error.retryAfterSeconds) } },
      );
    }
    const match = PROBLEMS_BY_ERROR.find(([errorClass]) => error instanceof errorClass);
    if (match) throw new ProblemError(match[1], { cause: error });
    throw error;
  }
};

/** What `GET /` answers: where everything is, for whoever opens the API's address first. */
const API_INDEX = {
  service: 'user-service',
  links: [
    { rel: 'sign-up', method: 'POST', href: '/v1/users' },
    { rel: 'log-in', method: 'POST', href: '/v1/sessions' },
    { rel: 'me', method: 'GET', href: '/v1/users/me' },
    { rel: 'delete-me', method: 'DELETE', href: '/v1/users/me' },
    { rel: 'openapi', method: 'GET', href: '/openapi.json' },
    { rel: 'docs', method: 'GET', href: '/docs' },
    { rel: 'liveness', method: 'GET', href: '/healthz' },
    { rel: 'readiness', method: 'GET', href: '/readyz' },
    { rel: 'metrics', method: 'GET', href: '/metrics' },
  ],
} as const;

/**
 * `/v1/users/me` is the token's user: once that account is deleted the token authenticates nobody
 * (401, as for any token that is no longer valid), rather than naming a missing resource.
 */
async function asCaller<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof UserNotFoundError) {
      throw unauthorized('the token’s user no longer exists', 'invalid_token');
    }
    throw error;
  }
}

export function apiRoutes(deps: RoutesDeps): Router {
  const router = new Router();

  router.get('/', (ctx) => {
    ctx.body = API_INDEX;
  });

  router.post('/v1/users', async (ctx) => {
    const request = parseRequest(signUpRequestSchema, await readJsonBody(ctx));
    const user = await signUp(deps, request);
    ctx.status = 201;
    ctx.set('Location', `/v1/users/${user.id}`);
    ctx.body = user;
  });

  const authenticated = bearerAuth(deps.verifyToken);

  router.get('/v1/users/me', authenticated, async (ctx) => {
    ctx.body = await asCaller(() => getUser(deps.users, (ctx.state as AuthenticatedState).userId));
  });

  router.delete('/v1/users/me', authenticated, async (ctx) => {
    await asCaller(() => deleteUser(deps.users, (ctx.state as AuthenticatedState).userId));
    ctx.status = 204;
  });

  // Another user's id answers 404, exactly like an id nobody has: a 403 would tell a caller which
  // ids exist (RFC 9110 §15.5.5 allows 404 to hide a resource the caller may not see).
  router.get('/v1/users/:id', authenticated, async (ctx) => {
    const id = (ctx.params.id ?? '').toLowerCase();
    if (!UUID.test(id) || id !== (ctx.state as AuthenticatedState).userId.toLowerCase()) {
      throw new UserNotFoundError(`no user ${id}`);
    }
    ctx.body = await getUser(deps.users, id);
  });

  router.post('/v1/sessions', async (ctx) => {
    const credentials = parseRequest(logInRequestSchema, await readJsonBody(ctx));
    // ctx.ip is the socket's peer, or X-Forwarded-For's client when TRUST_PROXY=true.
    ctx.body = await logIn(deps, credentials, ctx.ip);
  });

  return router;
}
