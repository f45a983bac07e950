import { fileURLToPath } from 'node:url';
import { ConfigError } from '@signup-flow/service-runtime';
import { describeConfigTable } from '@signup-flow/testing';
import { describe, expect, it } from 'vitest';
import { configSchema, loadSettings } from './config.js';

describe('configuration', () => {
  it('when only DATABASE_URL is set, then the documented defaults apply', () => {
    const settings = loadSettings({ DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/users' });

    expect(settings).toMatchObject({
      port: 8080,
      dbPoolMax: 10,
      migrateOnStart: true,
      provisionNats: true,
      nats: { servers: ['nats://127.0.0.1:4222'] },
      usersStream: { replicas: 1, maxAgeMs: 604_800_000, duplicateWindowMs: 3_600_000 },
      outbox: {
        batchSize: 100,
        pollIntervalMs: 1000,
        publishTimeoutMs: 5000,
        retryMaxDelayMs: 30_000,
        retentionSeconds: 604_800,
      },
      jwt: {
        keyId: 'user-service-1',
        issuer: 'user-service',
        audience: 'signup-flow',
        ttlSeconds: 3600,
      },
      loginThrottle: { perAccount: 5, perClient: 100, windowSeconds: 900 },
      trustProxy: false,
      shutdownTimeoutMs: 25_000,
    });
    expect(settings.jwt.secret).toBeUndefined();
  });

  it('when variables are invalid, then one ConfigError names each of them and echoes no value', () => {
    const secret = 'short-secret';
    const load = () =>
      loadSettings({ DATABASE_URL: 'mysql://x', PORT: 'eighty', JWT_SECRET: secret });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/DATABASE_URL.*PORT|PORT.*DATABASE_URL/);
    expect(load).toThrow(/JWT_SECRET/);
    expect(load).not.toThrow(new RegExp(secret));
  });
});

describeConfigTable(fileURLToPath(new URL('../README.md', import.meta.url)), configSchema.shape);
