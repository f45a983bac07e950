import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { STREAMS } from '@signup-flow/events';
import { waitUntil } from '@signup-flow/local-stack';
import { beforeAll, describe, expect, it } from 'vitest';
import { welcomeMessageId } from '../src/domain/send-welcome-email.js';
import { WELCOME_EMAIL_CONSUMER } from '../src/messaging/jetstream.js';
import {
  DLQ_CLI,
  deadLetters,
  ledgerEntry,
  newUserCreatedEvent,
  publishEvent,
  publishRaw,
  type Stack,
  startInProcess,
  startProcess,
  startStack,
  waitForDeadLetters,
  waitUntilConsumerIdle,
  waitUntilSent,
} from './support.js';

const run = promisify(execFile);

describe('resilience', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });

  it('when SIGTERM arrives during a slow send, then the send finishes, the message is acked and the process exits 0', async () => {
    const service = await startProcess(stack);
    const event = newUserCreatedEvent();
    const messageId = welcomeMessageId(event.id);
    let release: (decision: 'accept' | 'reject') => void = () => undefined;
    stack.sink.behaviour = (attempt) =>
      attempt.messageId === messageId
        ? { kind: 'stall', release: new Promise((resolve) => (release = resolve)) }
        : { kind: 'accept' };
    await publishEvent(stack, event);
    await waitUntil('the send to start', async () =>
      stack.sink.attempts.some((attempt) => attempt.messageId === messageId),
    );

    const stopping = service.process.stop();
    await waitUntil('the service to report draining', async () => {
      const response = await fetch(`http://127.0.0.1:${service.port}/readyz`);
      return ((await response.json()) as { status: string }).status === 'draining';
    });
    release('accept');
    await stopping;

    expect(await service.process.exited()).toBe(0);
    expect(stack.sink.withMessageId(messageId)).toHaveLength(1);
    expect(await ledgerEntry(stack, event.id)).toMatchObject({ status: 'sent', attempts: 1 });
    // Unacked, it would fall back to pending once its ack wait ran out, with nobody to take it.
    await waitUntilConsumerIdle(stack);
    stack.sink.behaviour = () => ({ kind: 'accept' });
  });

  it("when a send outlasts the shutdown bound, then the message is nak'd and the next instance delivers it once", async () => {
    const first = await startInProcess(stack);
    const event = newUserCreatedEvent();
    const messageId = welcomeMessageId(event.id);
    let release: (decision: 'accept' | 'reject') => void = () => undefined;
    const attemptsFor = () =>
      stack.sink.attempts.filter((attempt) => attempt.messageId === messageId);
    stack.sink.behaviour = (attempt) =>
      attempt.messageId === messageId && attemptsFor().length === 1
        ? { kind: 'stall', release: new Promise((resolve) => (release = resolve)) }
        : { kind: 'accept' };
    await publishEvent(stack, event);
    await waitUntil('the send to start', async () => attemptsFor().length > 0);

    await first.stop(300);
    const [stalled] = attemptsFor();
    await waitUntil('the stopped instance to hang up', async () =>
      stack.sink.sessionClosed(stalled?.sessionId ?? ''),
    );
    release('accept');
    const second = await startInProcess(stack);
    await waitUntilSent(stack, [event.id], 60_000);

    expect(attemptsFor()).toHaveLength(2);
    expect(stack.sink.withMessageId(messageId)).toHaveLength(1);
    await second.stop(1_000);
    stack.sink.behaviour = () => ({ kind: 'accept' });
  });

  it('when nats-server restarts, then the consumer carries on by itself', async () => {
    const service = await startInProcess(stack);
    const before = newUserCreatedEvent();
    await publishEvent(stack, before);
    await waitUntilSent(stack, [before.id]);

    await stack.nats.stop();
    await waitUntil('readiness to report NATS down', async () => {
      const response = await fetch(`http://127.0.0.1:${service.http.port}/readyz`);
      const body = (await response.json()) as { dependencies: Record<string, string> };
      return response.status === 503 && body.dependencies.nats === 'down';
    });
    await stack.nats.start();
    const after = newUserCreatedEvent();
    await waitUntil('publishing after the restart', async () => {
      await publishEvent(stack, after);
      return true;
    });
    await waitUntilSent(stack, [after.id], 60_000);

    expect(stack.sink.withMessageId(welcomeMessageId(after.id))).toHaveLength(1);
    await service.stop(1_000);
  });

  it('when the DLQ CLI lists and purges, then it shows each dead letter and empties the stream', async () => {
    const service = await startInProcess(stack);
    await publishRaw(stack, new TextEncoder().encode('not json at all'));
    await publishRaw(stack, new TextEncoder().encode('{"specversion":"0.3"}'));
    const letters = await waitForDeadLetters(stack, 2);
    const env = { ...process.env, NATS_URL: stack.natsUrl };

    const { stdout: listed } = await run(process.execPath, [DLQ_CLI, 'list'], { env });
    const { stdout: shown } = await run(
      process.execPath,
      [DLQ_CLI, 'show', String(letters[0]?.seq)],
      { env },
    );
    const { stdout: purged } = await run(process.execPath, [DLQ_CLI, 'purge', '--all'], { env });
    const { stdout: empty } = await run(process.execPath, [DLQ_CLI, 'list'], { env });

    const lines = listed.trim().split('\n');
    expect(lines[0]).toMatch(
      /^SEQ\s+DEAD-LETTERED\s+REASON\s+ATTEMPTS\s+ORIGINAL\s+EVENT\s+DETAIL$/,
    );
    expect(lines.slice(1).map((line) => line.split(/\s+/)[2])).toEqual([
      'not-json',
      'not-cloudevent',
    ]);
    expect(shown).toContain('Dlq-Reason: not-json');
    expect(shown).toContain('not json at all');
    expect(purged.trim()).toBe('purged 2 dead letter(s)');
    expect(empty.trim()).toBe('DLQ is empty');
    await service.stop(1_000);
  });

  it('when consumers take deliveries of a message and die with them, more times than the budget, then it is neither given up on nor dead-lettered, and is emailed once', async () => {
    const overrides = { RETRY_BACKOFF_MS: '1000,1000', CONSUMER_ACK_WAIT_MS: '1000' };
    const provisioning = await startInProcess(stack, overrides);
    await provisioning.stop(1_000);
    const lettersBefore = (await deadLetters(stack)).length;
    const event = newUserCreatedEvent();
    await publishEvent(stack, event);
    // Consumers that take the message and die with it: they never ack, nak or term.
    const consumer = await stack.js.consumers.get(STREAMS.users, WELCOME_EMAIL_CONSUMER);
    const deliveries: number[] = [];
    while (deliveries.length < 4) {
      const message = await consumer.next({ expires: 5_000 });
      if (message) deliveries.push(message.info.deliveryCount);
    }
    expect(deliveries).toEqual([1, 2, 3, 4]);

    const service = await startInProcess(stack, overrides);
    await waitUntilSent(stack, [event.id]);
    await waitUntilConsumerIdle(stack);

    expect(stack.sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    expect(await deadLetters(stack)).toHaveLength(lettersBefore);
    await service.stop(1_000);
  });
});
