/**
 * The live-install check that `helm test user-service` runs (services/user-service/src/cli/
 * check-signup-flow.ts), outside Kubernetes: against both services, Mailpit and Jaeger on
 * loopback. It passes when the flow works and fails when the email never comes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  ensureGoTool,
  freePort,
  GO_TOOLS,
  startJaegerOnFreePorts,
  startMailpit,
} from '@signup-flow/local-stack';
import {
  createTestDatabase,
  onTestFileEnd,
  type ServedService,
  serve,
  startDroppingServer,
  startNatsServer,
} from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const CHECK = fileURLToPath(
  new URL('../services/user-service/dist/cli/check-signup-flow.js', import.meta.url),
);
const run = promisify(execFile);

interface CheckRun {
  code: number;
  output: string;
}

/** Runs the check as the helm test Pod does: `node dist/cli/check-signup-flow.js`, env only. */
async function check(env: Record<string, string>): Promise<CheckRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CHECK], {
      env: { PATH: process.env.PATH, ...env },
      timeout: 120_000,
    });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: code ?? -1, output: `${stdout ?? ''}${stderr ?? ''}` };
  }
}

interface MailpitMessages {
  messages_count: number;
}

describe('the live-install check (helm test), against the running flow', () => {
  let users: ServedService;
  let messaging: ServedService;
  let mailpitUrl: string;
  let jaegerUrl: string;
  let usersDatabase: string;
  let messagingDatabase: string;
  let natsUrl: string;
  let logDir: string;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'signup-flow-check-'));
    logDir = dir;
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    const mailpit = await startMailpit({
      binary: await ensureGoTool(GO_TOOLS.mailpit),
      dir,
      smtpPort,
      httpPort,
    });
    onTestFileEnd(() => mailpit.stop());
    mailpitUrl = `http://127.0.0.1:${httpPort}`;
    const jaeger = await startJaegerOnFreePorts(await ensureGoTool(GO_TOOLS.jaeger), dir);
    onTestFileEnd(() => jaeger.stop());
    jaegerUrl = jaeger.queryUrl;

    const nats = await startNatsServer();
    natsUrl = nats.url;
    messagingDatabase = await createTestDatabase('check_messaging');
    const tracing = {
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpEndpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    usersDatabase = await createTestDatabase('check_users');
    users = await serve(
      'user-service',
      { ...tracing, DATABASE_URL: usersDatabase, NATS_URL: nats.url },
      dir,
    );
    messaging = await serve(
      'messaging-service',
      {
        ...tracing,
        DATABASE_URL: messagingDatabase,
        NATS_URL: nats.url,
        SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
      },
      dir,
    );
  });

  async function inboxCount(): Promise<number> {
    const response = await fetch(`${mailpitUrl}/api/v1/messages`);
    return ((await response.json()) as MailpitMessages).messages_count;
  }

  it('when Mailpit and Jaeger are configured, then it verifies signup, email and trace, deletes what it made, and says so', async () => {
    const result = await check({
      USER_SERVICE_URL: users.baseUrl,
      MAILPIT_URL: mailpitUrl,
      JAEGER_QUERY_URL: jaegerUrl,
    });

    expect(result.code, result.output).toBe(0);
    const lines = result.output.trim().split('\n');
    expect(lines[0]).toMatch(/^✓ signed up a test user \([0-9a-f-]{36}\): 201 Created$/);
    expect(lines[1]).toBe(
      '✓ the welcome email reached Mailpit ("Welcome to signup-flow, Signup Check!")',
    );
    expect(lines[2]).toMatch(
      /^✓ the trace [0-9a-f]{32} is in Jaeger: \d+ spans from both services$/,
    );
    expect(lines[3]).toBe('✓ cleaned up: the test user and its email deleted');
    expect(lines[4]).toBe('signup flow check passed');
    // What it made is gone: no user, no email.
    expect(await inboxCount()).toBe(0);
    const userId = /\(([0-9a-f-]{36})\)/.exec(lines[0] ?? '')?.[1];
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: usersDatabase });
    await client.connect();
    try {
      const { rowCount } = await client.query('SELECT 1 FROM users WHERE id = $1', [userId]);
      expect(rowCount).toBe(0);
    } finally {
      await client.end();
    }
  }, 150_000);

  it('when only the messaging-service is given, then it counts the email in its metrics', async () => {
    const result = await check({
      USER_SERVICE_URL: users.baseUrl,
      MESSAGING_SERVICE_URL: messaging.baseUrl,
    });

    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(
      '✓ the messaging-service sent an email (signupflow_messages_consumed_total{outcome="sent"} rose; 1 instance(s) watched)',
    );
    expect(result.output).toContain('✓ cleaned up: the test user deleted');
  }, 150_000);

  it('when neither an inbox nor the messaging-service is given, then it refuses to start (exit 2) and signs nobody up', async () => {
    const result = await check({ USER_SERVICE_URL: users.baseUrl });

    expect(result.code).toBe(2);
    expect(result.output.trim()).toBe(
      'check-signup-flow: invalid configuration: (environment): set MAILPIT_URL or MESSAGING_SERVICE_URL: where to look for the welcome email',
    );
  });

  it('when the welcome email never comes (the mail server drops every connection), then it fails (exit 1) saying what did not happen, and still cleans up', async () => {
    // The same service, now with a mail server that never takes a message.
    await messaging.process.stop();
    const deadMailServer = await startDroppingServer();
    onTestFileEnd(() => deadMailServer.stop());
    const stuck = await serve(
      'messaging-service',
      {
        DATABASE_URL: messagingDatabase,
        NATS_URL: natsUrl,
        SMTP_URL: deadMailServer.url,
        MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
      },
      logDir,
    );

    const places: Record<string, string>[] = [
      { MAILPIT_URL: mailpitUrl },
      { MESSAGING_SERVICE_URL: stuck.baseUrl },
    ];
    for (const where of places) {
      const result = await check({
        USER_SERVICE_URL: users.baseUrl,
        CHECK_TIMEOUT_MS: '5000',
        ...where,
      });
      expect(result.code, result.output).toBe(1);
      expect(result.output).toMatch(/^✓ signed up a test user/);
      expect(result.output).toMatch(/^✗ the welcome email in .* did not happen in time$/m);
      expect(result.output).toMatch(/✓ cleaned up: the test user deleted/);
      expect(result.output.trim().split('\n').at(-1)).toBe('signup flow check FAILED');
    }
  }, 150_000);
});
