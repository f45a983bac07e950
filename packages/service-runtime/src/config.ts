import { z } from 'zod';

/** Thrown when the environment does not satisfy a service's configuration schema. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses environment variables with a schema whose keys are the variable names.
 * The message of the thrown {@link ConfigError} is one line naming every bad variable, never
 * echoing values (they may be secrets).
 */
export function loadConfig<Schema extends z.ZodType>(
  schema: Schema,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<Schema> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const variable = issue.path.join('.') || '(environment)';
    return `${variable}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/** Shared building blocks for configuration schemas. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  /** A bind address; unset means every interface (what a container wants). */
  host: () =>
    z
      .union([z.ipv4(), z.ipv6(), z.hostname()], {
        message: 'must be an IP address or a host name',
      })
      .optional(),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1'),
  logLevel: () => z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  postgresUrl: () =>
    z.string({ message: 'is required' }).refine((value) => /^postgres(ql)?:\/\//.test(value), {
      message: 'must be a postgres:// URL',
    }),
} as const;
