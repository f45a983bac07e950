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
  onTestFileEnd,
  type SignupFlow,
  serve,
  serveSignupFlow,
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
  let flow: SignupFlow;
  let mailpitUrl: string;
  let jaegerUrl: string;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'signup-flow-check-'));
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

    flow = await serveSignupFlow({
      name: 'check',
      natsUrl: (await startNatsServer()).url,
      smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
      logDir: dir,
      traceEndpoint: jaeger.otlpHttpEndpoint,
    });
  });

  async function inboxCount(): Promise<number> {
    const response = await fetch(`${mailpitUrl}/api/v1/messages`);
    return ((await response.json()) as MailpitMessages).messages_count;
  }

  it('when Mailpit and Jaeger are configured, then it verifies signup, email and trace, deletes what it made, and says so', async () => {
    const result = await check({
      USER_SERVICE_URL: flow.users.baseUrl,
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
    const client = new pg.Client({ connectionString: flow.users.databaseUrl });
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
      USER_SERVICE_URL: flow.users.baseUrl,
      MESSAGING_SERVICE_URL: flow.messaging.baseUrl,
    });

    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(
      '✓ the messaging-service sent an email (signupflow_messages_consumed_total{outcome="sent"} rose; 1 instance(s) watched)',
    );
    expect(result.output).toContain('✓ cleaned up: the test user deleted');
  }, 150_000);

  it('when neither an inbox nor the messaging-service is given, then it refuses to start (exit 2) and signs nobody up', async () => {
    const result = await check({ USER_SERVICE_URL: flow.users.baseUrl });

    expect(result.code).toBe(2);
    expect(result.output.trim()).toBe(
      'check-signup-flow: invalid configuration: (environment): set MAILPIT_URL or MESSAGING_SERVICE_URL: where to look for the welcome email',
    );
  });

  it('when the welcome email never comes (the mail server drops every connection), then it fails (exit 1) saying what did not happen, and still cleans up', async () => {
    // The same service, now with a mail server that never takes a message.
    await flow.messaging.process.stop();
    const deadMailServer = await startDroppingServer();
    onTestFileEnd(() => deadMailServer.stop());
    const stuck = await serve(
      'messaging-service',
      { ...flow.messaging.env, SMTP_URL: deadMailServer.url },
      flow.logDir,
    );

    const places: Record<string, string>[] = [
      { MAILPIT_URL: mailpitUrl },
      { MESSAGING_SERVICE_URL: stuck.baseUrl },
    ];
    for (const where of places) {
      const result = await check({
        USER_SERVICE_URL: flow.users.baseUrl,
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
