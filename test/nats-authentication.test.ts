import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { waitUntil } from '@signup-flow/local-stack';
import {
  createTestDatabase,
  issueCredentials,
  onTestFileEnd,
  SmtpSink,
  serve,
  signUp,
  startNatsServer,
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
    await expectRefusalLogged(users.process.logFile);
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
    const sink = await SmtpSink.start();
    onTestFileEnd(() => sink.stop());
    const users = await serve(
      'user-service',
      {
        DATABASE_URL: await createTestDatabase('creds_users'),
        NATS_URL: nats.url,
        NATS_CREDS: join(dir, 'user-service.creds'),
      },
      dir,
    );
    await serve(
      'messaging-service',
      {
        DATABASE_URL: await createTestDatabase('creds_messaging'),
        NATS_URL: nats.url,
        NATS_CREDS: join(dir, 'messaging-service.creds'),
        SMTP_URL: sink.url,
        MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
      },
      dir,
    );

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
    const users = await serve(
      'user-service',
      {
        DATABASE_URL: await createTestDatabase('creds_untrusted'),
        NATS_URL: nats.url,
        NATS_CREDS: join(dir, 'stranger.creds'),
      },
      dir,
    );

    const readiness = (await (await fetch(`${users.baseUrl}/readyz`)).json()) as {
      dependencies: Record<string, string>;
    };
    expect(readiness.dependencies.nats).toBe('down');
    await expectRefusalLogged(users.process.logFile);
  });
});

/** The service says why it has no NATS connection, instead of retrying in silence. */
async function expectRefusalLogged(logFile: string): Promise<void> {
  await waitUntil('the refused NATS login in the log', async () => {
    const refusals = (await readFile(logFile, 'utf8'))
      .split('\n')
      .filter((line) => line.includes('cannot connect to NATS'));
    return refusals.some((line) => /authorization/i.test(line));
  });
}
