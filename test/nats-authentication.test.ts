import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { waitUntil } from '@signup-flow/local-stack';
import {
  createTestDatabase,
  issueCredentials,
  serve,
  serveSignupFlow,
  signUp,
  startNatsServer,
  startSmtpSink,
  untrustedCredentials,
} from '@signup-flow/testing';
import { describe, expect, it } from 'vitest';

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
    const sink = await startSmtpSink();
    const { users } = await serveSignupFlow({
      name: 'auth',
      natsUrl: nats.url,
      smtpUrl: sink.url,
      userServiceEnv: { NATS_USER: 'user-service', NATS_PASSWORD: 'user-service-test-password' },
      messagingServiceEnv: {
        NATS_USER: 'messaging-service',
        NATS_PASSWORD: 'messaging-service-test-password',
      },
    });

    const response = await signUp(users.baseUrl, 'authenticated@example.test');

    expect(response.status).toBe(201);
    await waitUntil('the welcome email', async () => sink.received.length === 1);
    expect((await (await fetch(`${users.baseUrl}/readyz`)).json()) as object).toMatchObject({
      dependencies: { nats: 'up' },
    });
  });

  it('when the password is wrong, then the service reports NATS down instead of pretending', async () => {
    const nats = await startNatsServer({ users: USERS });
    const logDir = await mkdtemp(join(tmpdir(), 'signup-flow-nats-auth-wrong-'));

    await expectLoginRefused(nats.url, logDir, {
      NATS_USER: 'user-service',
      NATS_PASSWORD: 'not-the-password',
    });
  });
});

describe('NATS authentication with NATS_CREDS (a .creds file: user JWT and nkey seed)', () => {
  it('when nats-server trusts only its operator, then anonymous clients are refused and both services, each with its own credentials, carry a signup to its email', async () => {
    const { trust, creds } = await issueCredentials(['user-service', 'messaging-service']);
    const nats = await startNatsServer({ operator: trust });
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(
      /authorization/i,
    );
    const dir = await mkdtemp(join(tmpdir(), 'signup-flow-nats-creds-'));
    for (const [name, content] of Object.entries(creds)) {
      await writeFile(join(dir, `${name}.creds`), content, { mode: 0o600 });
    }
    const sink = await startSmtpSink();
    const { users } = await serveSignupFlow({
      name: 'creds',
      natsUrl: nats.url,
      smtpUrl: sink.url,
      logDir: dir,
      userServiceEnv: { NATS_CREDS: join(dir, 'user-service.creds') },
      messagingServiceEnv: { NATS_CREDS: join(dir, 'messaging-service.creds') },
    });

    const response = await signUp(users.baseUrl, 'credentialed@example.test');

    expect(response.status).toBe(201);
    await waitUntil('the welcome email', async () => sink.received.length === 1);
  });

  it('when the credentials come from an account the server does not trust, then the service reports NATS down', async () => {
    const { trust } = await issueCredentials([]);
    const nats = await startNatsServer({ operator: trust });
    const dir = await mkdtemp(join(tmpdir(), 'signup-flow-nats-creds-untrusted-'));
    await writeFile(join(dir, 'stranger.creds'), await untrustedCredentials('stranger'), {
      mode: 0o600,
    });

    await expectLoginRefused(nats.url, dir, { NATS_CREDS: join(dir, 'stranger.creds') });
  });
});

/**
 * A user-service logging in to NATS with `login` starts, reports NATS down (instead of pretending)
 * and says why it has no connection (instead of retrying in silence).
 */
async function expectLoginRefused(
  natsUrl: string,
  logDir: string,
  login: Record<string, string>,
): Promise<void> {
  const users = await serve(
    'user-service',
    { DATABASE_URL: await createTestDatabase('auth_refused'), NATS_URL: natsUrl, ...login },
    logDir,
  );
  const readiness = (await (await fetch(`${users.baseUrl}/readyz`)).json()) as {
    dependencies: Record<string, string>;
  };
  expect(readiness.dependencies.nats).toBe('down');
  await waitUntil('the refused NATS login in the log', async () => {
    const refusals = (await readFile(users.process.logFile, 'utf8'))
      .split('\n')
      .filter((line) => line.includes('cannot connect to NATS'));
    return refusals.some((line) => /authorization/i.test(line));
  });
}
