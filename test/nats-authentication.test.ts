import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { waitUntil } from '@signup-flow/local-stack';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, onTestFileEnd, startNatsServer } from './support/harness.js';
import { serve } from './support/services.js';
import { SmtpSink } from './support/smtp-sink.js';

const USERS = [
  { user: 'user-service', password: 'user-service-test-password' },
  { user: 'messaging-service', password: 'messaging-service-test-password' },
];

describe('NATS authentication with NATS_USER and NATS_PASSWORD', () => {
  it('when nats-server requires a login, then anonymous clients are refused and both services, each with its own user, carry a signup to its email', async () => {
    const nats = await startNatsServer({ users: USERS });
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(
      /authorization/i,
    );
    const sink = await SmtpSink.start();
    onTestFileEnd(() => sink.stop());
    const logDir = await mkdtemp(join(tmpdir(), 'signup-flow-nats-auth-'));
    const users = await serve(
      'user-service',
      {
        DATABASE_URL: await createTestDatabase('auth_users'),
        NATS_URL: nats.url,
        NATS_USER: 'user-service',
        NATS_PASSWORD: 'user-service-test-password',
      },
      logDir,
    );
    await serve(
      'messaging-service',
      {
        DATABASE_URL: await createTestDatabase('auth_messaging'),
        NATS_URL: nats.url,
        NATS_USER: 'messaging-service',
        NATS_PASSWORD: 'messaging-service-test-password',
        SMTP_URL: sink.url,
        MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
      },
      logDir,
    );

    const response = await fetch(`${users.baseUrl}/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'authenticated@example.test',
        password: 'correct horse battery',
        name: 'Authenticated',
      }),
    });

    expect(response.status).toBe(201);
    await waitUntil('the welcome email', async () => sink.received.length === 1);
    expect((await (await fetch(`${users.baseUrl}/readyz`)).json()) as object).toMatchObject({
      dependencies: { nats: 'up' },
    });
  });

  it('when the password is wrong, then the service reports NATS down instead of pretending', async () => {
    const nats = await startNatsServer({ users: USERS });
    const logDir = await mkdtemp(join(tmpdir(), 'signup-flow-nats-auth-wrong-'));
    const users = await serve(
      'user-service',
      {
        DATABASE_URL: await createTestDatabase('auth_wrong'),
        NATS_URL: nats.url,
        NATS_USER: 'user-service',
        NATS_PASSWORD: 'not-the-password',
      },
      logDir,
    );

    const readiness = (await (await fetch(`${users.baseUrl}/readyz`)).json()) as {
      dependencies: Record<string, string>;
    };
    expect(readiness.dependencies.nats).toBe('down');
  });
});
