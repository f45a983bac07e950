import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { UserCreatedEvent } from '@signup-flow/events';
import { waitUntil } from '@signup-flow/local-stack';
import { createTestDatabase } from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { welcomeMessageId } from '../src/domain/send-welcome-email.js';
import { MAIN_JS, metricValue, newUserCreatedEvent, Stack } from './support.js';

const run = promisify(execFile);

/** Starts the built service with these variables, for a start that must fail: how it failed. */
function failedStart(env: Record<string, string>) {
  return run(process.execPath, [MAIN_JS], { env: { ...process.env, ...env } }).catch(
    (error: { code: number; stderr: string }) => error,
  );
}

/** How many emails the sink accepted for each of the events. */
function emailsPerEvent(stack: Stack, events: UserCreatedEvent[]): number[] {
  return events.map((event) => stack.sink.withMessageId(welcomeMessageId(event.id)).length);
}

describe('the messaging-service as a process', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start();
  });

  it('when the configuration is invalid, then it exits non-zero with one line naming the variables', async () => {
    const failure = await failedStart({
      DATABASE_URL: 'mysql://nope',
      PORT: 'eighty',
      SEND_CONCURRENCY: '0',
    });

    expect(failure).toMatchObject({ code: 2 });
    const lines = (failure as { stderr: string }).stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^messaging-service: invalid configuration: .*PORT.*DATABASE_URL.*SEND_CONCURRENCY/,
    );
  });

  it('when SMTP_URL is malformed, then the one-line error does not repeat it (it may hold a password)', async () => {
    const failure = await failedStart({
      DATABASE_URL: 'postgres://127.0.0.1:1/none',
      SMTP_URL: 'smtp://mailuser:s3cretpw@host:25x',
    });

    expect(failure).toMatchObject({ code: 2 });
    const stderr = (failure as { stderr: string }).stderr.trim();
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^messaging-service: invalid configuration: SMTP_URL: /);
    expect(stderr).not.toContain('s3cretpw');
  });

  it('when it cannot start (an unreadable NATS credentials file), then it exits 1 with one line', async () => {
    const failure = await failedStart({
      DATABASE_URL: stack.databaseUrl,
      NATS_URL: stack.nats.url,
      NATS_CREDS: '/nonexistent/user.creds',
    });

    expect(failure).toMatchObject({ code: 1 });
    const lines = (failure as { stderr: string }).stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^messaging-service: failed to start: .*ENOENT/);
  });

  it('when killed with SIGKILL in the middle of a send and restarted, then the email is delivered once', async () => {
    const env = { SMTP_TIMEOUT_MS: '4000' };
    const first = await stack.startProcess(env);
    const event = newUserCreatedEvent();
    const messageId = welcomeMessageId(event.id);
    const attemptsFor = () => stack.sink.attemptsWithMessageId(messageId);
    // The first attempt hangs until the test answers it; later ones are accepted.
    const release = stack.sink.stallFirstAttempt(messageId);

    await stack.publish(event);
    await waitUntil(
      'the first attempt reaching the SMTP server',
      async () => attemptsFor().length > 0,
    );
    await first.process.kill();
    const [stalled] = attemptsFor();
    await waitUntil('the SMTP server noticing the dead client', async () =>
      stack.sink.sessionClosed(stalled?.sessionId ?? ''),
    );
    // Answering now reaches nobody: like a real server, the sink drops a message it could not confirm.
    release('accept');
    expect(await stack.delivery(event.id)).toMatchObject({ status: 'sending' });

    const second = await stack.startProcess(env);
    await stack.waitUntilSent([event.id], 60_000);
    await second.process.stop();

    expect(attemptsFor()).toHaveLength(2);
    expect(stack.sink.withMessageId(messageId)).toHaveLength(1);
    expect(await stack.delivery(event.id)).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('when the service is stopped during 50 signups and started afterwards, then 50 emails are sent, one each', async () => {
    const events = Array.from({ length: 50 }, () => newUserCreatedEvent());
    const first = await stack.startProcess();
    for (const event of events.slice(0, 25)) await stack.publish(event);
    await first.process.stop();
    expect(await first.process.exited()).toBe(0);
    for (const event of events.slice(25)) await stack.publish(event);

    const second = await stack.startProcess();
    await stack.waitUntilSent(events.map((event) => event.id));
    await second.process.stop();

    expect(emailsPerEvent(stack, events)).toEqual(events.map(() => 1));
  });

  it('when two replicas share the consumer, then 200 events give 200 emails, none twice, and both replicas work', async () => {
    const replicas = [await stack.startProcess(), await stack.startProcess()];
    const sentBefore = await Promise.all(
      replicas.map((replica) =>
        metricValue(replica.port, 'signupflow_messages_consumed_total', 'outcome="sent"'),
      ),
    );
    const events = Array.from({ length: 200 }, () => newUserCreatedEvent());
    await Promise.all(events.map((event) => stack.publish(event)));

    await stack.waitUntilSent(events.map((event) => event.id));
    const sentByEach = async () =>
      (
        await Promise.all(
          replicas.map((replica) =>
            metricValue(replica.port, 'signupflow_messages_consumed_total', 'outcome="sent"'),
          ),
        )
      ).map((value, i) => value - (sentBefore[i] ?? 0));
    // Each replica counts a message once it has acked it, just after the ledger write.
    await waitUntil(
      'both replicas counting 200 sends together',
      async () => (await sentByEach()).reduce((sum, value) => sum + value, 0) >= 200,
    );
    const counted = await sentByEach();
    await Promise.all(replicas.map((replica) => replica.process.stop()));

    expect(emailsPerEvent(stack, events)).toEqual(events.map(() => 1));
    expect(counted.reduce((sum, value) => sum + value, 0)).toBe(200);
    expect(counted.every((value) => value > 0)).toBe(true);
  });

  it('when two replicas start together on a fresh database, then both migrate safely and become ready', async () => {
    const fresh = { DATABASE_URL: await createTestDatabase('messaging_fresh') };

    const replicas = await Promise.all([stack.startProcess(fresh), stack.startProcess(fresh)]);

    expect(replicas.map((replica) => replica.process.running)).toEqual([true, true]);
    await Promise.all(replicas.map((replica) => replica.process.stop()));
    expect(await Promise.all(replicas.map((replica) => replica.process.exited()))).toEqual([0, 0]);
  });
});
