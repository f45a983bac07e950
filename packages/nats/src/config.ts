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
    )
    .describe('comma-separated server list'),
  NATS_CREDS: z.string().min(1).optional().describe('path of a `.creds` file'),
  NATS_USER: z.string().min(1).optional().describe('user and password'),
  NATS_PASSWORD: z.string().min(1).optional().describe('user and password'),
  /** TLS: the CA that signed the servers' certificates (setting any NATS_TLS_* requires TLS). */
  NATS_TLS_CA: z
    .string()
    .min(1)
    .optional()
    .describe(
      "TLS to NATS: the CA file that signed the servers' certificates; setting any `NATS_TLS_*` requires TLS",
    ),
  /** TLS client certificate and its key, for servers that verify clients (both or neither). */
  NATS_TLS_CERT: z
    .string()
    .min(1)
    .optional()
    .describe(
      'client certificate and key files, for servers that verify clients (both or neither)',
    ),
  NATS_TLS_KEY: z
    .string()
    .min(1)
    .optional()
    .describe(
      'client certificate and key files, for servers that verify clients (both or neither)',
    ),
} as const;

const natsEnvSchema = z.object(natsEnvShape);

/** NATS_TLS_CERT and NATS_TLS_KEY come together; add to a service's schema with `.superRefine`. */
export function checkNatsTlsPair(
  config: { NATS_TLS_CERT?: string | undefined; NATS_TLS_KEY?: string | undefined },
  context: z.RefinementCtx,
): void {
  if (Boolean(config.NATS_TLS_CERT) !== Boolean(config.NATS_TLS_KEY)) {
    context.addIssue({
      code: 'custom',
      path: [config.NATS_TLS_CERT ? 'NATS_TLS_KEY' : 'NATS_TLS_CERT'],
      message: 'NATS_TLS_CERT and NATS_TLS_KEY must be set together',
    });
  }
}
export type NatsEnv = z.infer<typeof natsEnvSchema>;

/** Typed connection settings, derived once from {@link NatsEnv}. */
export interface NatsSettings {
  servers: string[];
  credentialsFile?: string;
  user?: string;
  password?: string;
  /** Files for TLS; present means the connection must use TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

export function natsSettingsFromEnv(config: NatsEnv): NatsSettings {
  return {
    servers: config.NATS_URL,
    ...(config.NATS_CREDS ? { credentialsFile: config.NATS_CREDS } : {}),
    ...(config.NATS_USER ? { user: config.NATS_USER } : {}),
    ...(config.NATS_PASSWORD ? { password: config.NATS_PASSWORD } : {}),
    ...(config.NATS_TLS_CA || config.NATS_TLS_CERT
      ? {
          tls: {
            ...(config.NATS_TLS_CA ? { caFile: config.NATS_TLS_CA } : {}),
            ...(config.NATS_TLS_CERT ? { certFile: config.NATS_TLS_CERT } : {}),
            ...(config.NATS_TLS_KEY ? { keyFile: config.NATS_TLS_KEY } : {}),
          },
        }
      : {}),
  };
}
