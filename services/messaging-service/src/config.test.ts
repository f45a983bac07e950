import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '@signup-flow/service-runtime';
import { describeConfigTable } from '@signup-flow/testing';
import { describe, expect, it } from 'vitest';
import { configSchema, DEFAULT_MAIL_FROM, DEFAULT_SMTP_URL, settingsFromConfig } from './config.js';

const required = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/messaging' };

describe('configuration', () => {
  it('when only DATABASE_URL is set, then the documented defaults apply and SMTP_URL/MAIL_FROM are flagged', () => {
    const settings = settingsFromConfig(loadConfig(configSchema, required));

    expect(settings).toMatchObject({
      port: 8081,
      smtpUrl: DEFAULT_SMTP_URL,
      mailFrom: DEFAULT_MAIL_FROM,
      migrateOnStart: true,
      provisionNats: true,
      sendConcurrency: 16,
      maxAckPending: 64,
      retryBackoffMs: [1000, 5000, 30000, 120000, 600000],
      dlqReplicas: 1,
    });
    expect(settings.defaulted).toEqual(['SMTP_URL', 'MAIL_FROM']);
    expect(settings.host).toBeUndefined();
  });

  it('when settings are given, then they are used and nothing is flagged', () => {
    const settings = settingsFromConfig(
      loadConfig(configSchema, {
        ...required,
        SMTP_URL: 'smtps://user:pass@mail.example:465',
        MAIL_FROM: 'Example <hello@example.test>',
        DB_MIGRATE: 'false',
        NATS_PROVISION: '0',
        SEND_CONCURRENCY: '4',
        RETRY_BACKOFF_MS: '500, 1000,2000',
        HOST: '127.0.0.1',
      }),
    );

    expect(settings).toMatchObject({
      smtpUrl: 'smtps://user:pass@mail.example:465',
      migrateOnStart: false,
      provisionNats: false,
      sendConcurrency: 4,
      maxAckPending: 16,
      retryBackoffMs: [500, 1000, 2000],
      host: '127.0.0.1',
      defaulted: [],
    });
  });

  it('when a NATS client certificate comes without its key, then the configuration names the missing one', () => {
    expect(() =>
      loadConfig(configSchema, { ...required, NATS_TLS_CERT: '/etc/nats/client.crt' }),
    ).toThrow(/NATS_TLS_KEY: NATS_TLS_CERT and NATS_TLS_KEY must be set together/);
    const settings = loadConfig(configSchema, {
      ...required,
      NATS_TLS_CA: '/etc/nats/ca.crt',
      NATS_TLS_CERT: '/etc/nats/client.crt',
      NATS_TLS_KEY: '/etc/nats/client.key',
    });
    expect(settings.NATS_TLS_CA).toBe('/etc/nats/ca.crt');
  });

  it('when values are invalid, then one ConfigError names each variable without echoing secrets', () => {
    const load = () =>
      loadConfig(configSchema, {
        DATABASE_URL: 'mysql://root:hunter2@db/x',
        SMTP_URL: 'http://mail',
        RETRY_BACKOFF_MS: '1000,soon',
        HOST: 'not a host!',
      });

    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/DATABASE_URL.*SMTP_URL.*RETRY_BACKOFF_MS/);
    expect(load).toThrow(/HOST: must be an IP address or a host name/);
    expect(load).not.toThrow(/hunter2/);
  });
});

describeConfigTable(fileURLToPath(new URL('../README.md', import.meta.url)), configSchema.shape);
