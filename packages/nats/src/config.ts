import { z } from 'zod';

/**
 * The NATS variables both services read. Merge into a service's configuration schema with
 * `.extend(natsEnvShape)`.
 */
export const natsEnvShape = {
  NATS_URL: z
    .string()
    .default('nats://127.0.0.1:4222')
    .transform((value) =>
      value
        .split(',')
        .map((server) => server.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(
          z.string().regex(/^(nats|tls|wss?):\/\/[^\s]+$/, 'each server must be a nats:// URL'),
        )
        .min(1, 'must list at least one server'),
    ),
  NATS_CREDS: z.string().min(1).optional(),
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
} as const;

const natsEnvSchema = z.object(natsEnvShape);
export type NatsEnv = z.infer<typeof natsEnvSchema>;

/** Typed connection settings, derived once from {@link NatsEnv}. */
export interface NatsSettings {
  servers: string[];
  credentialsFile?: string;
  user?: string;
  password?: string;
}

export function natsSettingsFromEnv(config: NatsEnv): NatsSettings {
  return {
    servers: config.NATS_URL,
    ...(config.NATS_CREDS ? { credentialsFile: config.NATS_CREDS } : {}),
    ...(config.NATS_USER ? { user: config.NATS_USER } : {}),
    ...(config.NATS_PASSWORD ? { password: config.NATS_PASSWORD } : {}),
  };
}
