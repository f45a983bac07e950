import { EMAIL_PATTERN } from '@signup-flow/events';
import { PROBLEM_CONTENT_TYPE } from '@signup-flow/service-runtime';
import { z } from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiResponseObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';
import { logInRequestSchema, signUpRequestSchema } from './request-schemas.js';

/** The answers' shapes, as the handlers produce them (the requests' come from request-schemas). */
const userSchema = z
  .object({
    id: z.uuid(),
    email: z.string().regex(EMAIL_PATTERN),
    name: z.string(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'User', description: 'A user; never the password or its hash' });

const sessionSchema = z
  .object({ token: z.string().meta({ description: 'HS256 JWT' }), expiresAt: z.iso.datetime() })
  .meta({ id: 'Session' });

const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int().min(400).max(599),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ field: z.string(), pointer: z.string(), detail: z.string() }))
      .optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

const readinessSchema = z
  .object({
    status: z.enum(['ready', 'not ready', 'draining']),
    dependencies: z.record(z.string(), z.enum(['up', 'down'])),
  })
  .meta({ id: 'Readiness' });

const indexSchema = z
  .object({
    service: z.string(),
    links: z.array(z.object({ rel: z.string(), method: z.string(), href: z.string() })),
  })
  .meta({ id: 'ApiIndex' });

const problem = (description: string, headers?: z.ZodObject) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } },
});

const json = (description: string, schema: z.ZodType) => ({
  description,
  content: { 'application/json': { schema } },
});

const unauthorized = problem(
  'no, malformed, expired or foreign token, or its user was deleted',
  z.object({ 'WWW-Authenticate': z.string().meta({ description: 'Bearer realm="signup-flow"' }) }),
);

/** What any operation can answer besides its own: a broken server, a draining one. */
const serverErrors: ZodOpenApiResponsesObject = {
  '500': problem('internal error; never any detail'),
  '503': problem('unavailable (PostgreSQL down, or shutting down)'),
};

/** What every JSON-body operation can answer about the body itself. */
const bodyErrors: ZodOpenApiResponsesObject = {
  '400': problem('invalid fields (each listed in `errors`) or malformed JSON'),
  '413': problem('body larger than 16 KiB'),
  '415': problem('body not application/json in UTF-8'),
};

const getUser: ZodOpenApiOperationObject = {
  operationId: 'getUser',
  summary: 'The user with this id: only with that user’s own token',
  security: [{ bearer: [] }],
  requestParams: { path: z.object({ id: z.string().meta({ description: 'a user id (UUID)' }) }) },
  responses: {
    '200': json('the user', userSchema),
    '401': unauthorized,
    '404': problem('no such user, or another user’s id (answered alike, so ids cannot be probed)'),
    ...serverErrors,
  },
};

const operational = (operationId: string, summary: string, ok: ZodOpenApiResponseObject) => ({
  get: { operationId, summary, responses: { '200': ok, ...serverErrors } },
});

/** The OpenAPI 3.1 document of the user-service, built from the schemas that validate requests. */
export function openApiDocument(): ReturnType<typeof createDocument> {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'signup-flow user-service',
      version: '1',
      description:
        'Sign up, log in, look a user up with that user’s token. Every error is application/problem+json (RFC 9457).',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    paths: {
      '/': operational('apiIndex', 'Where everything is', json('links', indexSchema)),
      '/v1/users': {
        post: {
          operationId: 'signUp',
          summary: 'Sign up: stores the user and its UserCreated event together',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: signUpRequestSchema } },
          },
          responses: {
            '201': {
              ...json('the new user', userSchema),
              headers: z.object({ Location: z.string().meta({ description: '/v1/users/{id}' }) }),
            },
            ...bodyErrors,
            '409': problem('email already registered (compared case-insensitively)'),
            ...serverErrors,
          },
        },
      },
      '/v1/users/me': {
        get: {
          ...getUser,
          operationId: 'getMe',
          summary: 'The caller, from its token',
          requestParams: {},
          responses: {
            '200': json('the caller', userSchema),
            '401': unauthorized,
            ...serverErrors,
          },
        },
        delete: {
          operationId: 'deleteMe',
          summary: 'Delete the caller’s account; its token then authenticates nobody',
          security: [{ bearer: [] }],
          responses: {
            '204': { description: 'deleted' },
            '401': unauthorized,
            ...serverErrors,
          },
        },
      },
      '/v1/users/{id}': { get: getUser },
      '/v1/sessions': {
        post: {
          operationId: 'logIn',
          summary: 'Log in: a token for valid credentials',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: logInRequestSchema } },
          },
          responses: {
            '200': json('a session token', sessionSchema),
            ...bodyErrors,
            '401': problem('unknown email or wrong password (answered alike)'),
            '429': problem(
              'too many failed logins for the account or from the client',
              z.object({
                'Retry-After': z.string().meta({ description: 'seconds until another attempt' }),
              }),
            ),
            ...serverErrors,
          },
        },
      },
      '/openapi.json': operational('openApiDocument', 'This document', {
        description: 'the OpenAPI 3.1 document',
        content: { 'application/json': { schema: z.object({ openapi: z.string() }).loose() } },
      }),
      '/docs': operational('docs', 'The API docs page (Swagger UI over this document)', {
        description: 'an HTML page',
        content: { 'text/html': { schema: z.string() } },
      }),
      '/healthz': operational(
        'liveness',
        'Liveness',
        json('alive', z.object({ status: z.string() })),
      ),
      '/readyz': {
        get: {
          operationId: 'readiness',
          summary: 'Readiness: 503 while PostgreSQL is down or the service drains',
          responses: {
            '200': json('ready', readinessSchema),
            '503': json('not ready', readinessSchema),
            '500': problem('internal error'),
          },
        },
      },
      '/metrics': operational('metrics', 'Prometheus metrics', {
        description: 'Prometheus text format, or OpenMetrics when asked for',
        content: {
          'text/plain': { schema: z.string() },
          'application/openmetrics-text': { schema: z.string() },
        },
      }),
    },
  });
}
