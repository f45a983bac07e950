import { PROBLEM_TYPES, ProblemError } from '@signup-flow/service-runtime';
import type { Middleware } from 'koa';
import { InvalidTokenError } from '../domain/errors.js';
import type { TokenVerifier } from '../domain/token-verifier.js';

/** What an authenticated request carries in `ctx.state`. */
export interface AuthenticatedState {
  userId: string;
}

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

/** A 401 problem with the RFC 6750 challenge. */
export function unauthorized(detail: string, error?: 'invalid_token'): ProblemError {
  // RFC 6750 §3: the challenge names the scheme, and `error` once a token was presented.
  const challenge = `Bearer realm="signup-flow"${error ? `, error="${error}"` : ''}`;
  return new ProblemError(
    { type: PROBLEM_TYPES.unauthorized, title: 'Unauthorized', status: 401, detail },
    { headers: { 'WWW-Authenticate': challenge } },
  );
}

/**
 * Requires `Authorization: Bearer <token>` with a token the verifier accepts, and puts the caller's
 * user id in `ctx.state.userId`; anything else is a 401 problem with a `WWW-Authenticate` challenge.
 */
export function bearerAuth(verify: TokenVerifier): Middleware<AuthenticatedState> {
  return async function bearerAuth(ctx, next) {
    const header = ctx.get('Authorization');
    if (!header) throw unauthorized('a bearer token is required (Authorization: Bearer <token>)');
    const token = BEARER.exec(header)?.[1];
    if (!token)
      throw unauthorized('the Authorization header is not a bearer token', 'invalid_token');
    try {
      ctx.state.userId = (await verify(token)).userId;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw unauthorized(error.message, 'invalid_token');
      throw error;
    }
    await next();
  };
}
