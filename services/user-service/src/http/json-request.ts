import { type FieldViolation, PROBLEM_TYPES, ProblemError } from '@signup-flow/service-runtime';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import type { z } from 'zod';

export const MAX_BODY_BYTES = 16 * 1024;

/**
 * Reads the request body as JSON: 415 unless it is `application/json` in UTF-8, 413 past
 * {@link MAX_BODY_BYTES}, 400 when it is not well-formed JSON.
 */
export async function readJsonBody(ctx: Context): Promise<unknown> {
  const charset = ctx.request.charset;
  if (!ctx.is('application/json') || (charset && charset.toLowerCase() !== 'utf-8')) {
    throw new ProblemError({
      type: PROBLEM_TYPES.unsupportedMediaType,
      title: 'Unsupported media type',
      status: 415,
      detail: 'the request body must be application/json (UTF-8)',
    });
  }
  let raw: Buffer;
  try {
    raw = await getRawBody(ctx.req, {
      limit: MAX_BODY_BYTES,
      length: ctx.get('content-length') || undefined,
    });
  } catch (error) {
    if ((error as { type?: string }).type === 'entity.too.large') {
      throw new ProblemError({
        type: PROBLEM_TYPES.payloadTooLarge,
        title: 'Payload too large',
        status: 413,
        detail: `the request body must be at most ${MAX_BODY_BYTES} bytes`,
      });
    }
    throw error;
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    throw new ProblemError({
      type: PROBLEM_TYPES.malformedJson,
      title: 'Malformed JSON',
      status: 400,
      detail: 'the request body is not well-formed JSON',
    });
  }
}

function violationsOf(error: z.ZodError): FieldViolation[] {
  return error.issues.flatMap((issue): FieldViolation[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: [...issue.path, key].join('.'),
        pointer: `#/${[...issue.path, key].join('/')}`,
        detail: 'is not an allowed field',
      }));
    }
    if (issue.path.length === 0) {
      return [{ field: '(body)', pointer: '#', detail: 'must be a JSON object' }];
    }
    return [
      { field: issue.path.join('.'), pointer: `#/${issue.path.join('/')}`, detail: issue.message },
    ];
  });
}

/** Validates a parsed body; every violation is listed in one 400 problem. */
export function parseRequest<Schema extends z.ZodType>(
  schema: Schema,
  body: unknown,
): z.infer<Schema> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const errors = violationsOf(result.error);
  throw new ProblemError({
    type: PROBLEM_TYPES.invalidRequest,
    title: 'Invalid request',
    status: 400,
    detail: `${errors.length} invalid field${errors.length === 1 ? '' : 's'}`,
    errors,
  });
}
