/**
 * The failure model (README "Failures"): nothing lost, nothing twice, however long a dependency
 * is down. Real PostgreSQL, nats-server and SMTP servers; each outage is taken from this service
 * alone (its own SMTP sink, a TCP proxy in front of the shared PostgreSQL).
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeEvent, STREAMS } from '@signup-flow/events';
import { waitUntil } from '@signup-flow/local-stack';
import { ensureStream } from '@signup-flow/nats';
import { onTestFileEnd, startSmtpSink, TcpProxy } from '@signup-flow/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { welcomeMessageId } from '../src/domain/send-welcome-email.js';
import { DLQ_HEADERS, DLQ_REASONS } from '../src/messaging/dead-letters.js';
import { dlqStreamConfig, WELCOME_EMAIL_CONSUMER } from '../src/messaging/jetstream.js';
import { metricValue, newUserCreatedEvent, Stack } from './support.js';

/** Two attempts, 300 ms apart: any outage in these tests lasts many times the whole budget. */
const TINY_BUDGET = { RETRY_BACKOFF_MS: '300,300' };
/** Longer than the tiny budget's whole schedule, several times over. */
const OUTAGE_MS = 4_000;

async function readiness(port: number): Promise<Record<string, string>> {
  const body = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as {
    dependencies: Record<string, string>;
  };
  return body.dependencies;
}

describe('failure model', () => {
  let stack: Stack;
  /** Services this test started: stopped after it even when it fails, so none takes the next test's messages. */
  const running: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterEach(async () => {
    for (const stop of running.splice(0)) await stop();
  });

  const once = (stop: () => Promise<void>) => {
    let stopping: Promise<void> | undefined;
    return () => {
      stopping ??= stop().catch(() => undefined);
      return stopping;
    };
  };
  async function inProcess(overrides: Record<string, string> = {}) {
    const service = await stack.startInProcess(overrides);
    const stop = once(() => service.stop(1_000));
    running.push(stop);
    return { ...service, stop };
  }
  /** A service sending to an SMTP sink of its own, whose outages no other test sees. */
  async function inProcessWithOwnSink(overrides: Record<string, string> = {}) {
    const sink = await startSmtpSink();
    return { sink, service: await inProcess({ ...overrides, SMTP_URL: sink.url }) };
  }
  async function asProcess(overrides: Record<string, string> = {}) {
    const service = await stack.startProcess(overrides);
    const stop = once(() => service.process.stop());
    running.push(stop);
    return { ...service, stop };
  }

  it('when the mail server is down for far longer than the attempt budget, then no attempt is spent, nothing is dead-lettered, and each email goes out once when it returns', async () => {
    const { sink, service } = await inProcessWithOwnSink(TINY_BUDGET);
    const port = service.http.port;
    await sink.goDown();
    const events = Array.from({ length: 5 }, () => newUserCreatedEvent());
    for (const event of events) await stack.publish(event);

    await waitUntil('the consumer to pause for SMTP', async () => {
      return (await readiness(port)).smtp === 'down';
    });
    expect(await metricValue(port, 'signupflow_dependency_up', 'dependency="smtp"')).toBe(0);
    await sleep(OUTAGE_MS);
    const during = await Promise.all(events.map((event) => stack.delivery(event.id)));
    expect(during.every((row) => row === undefined || row.failedAttempts === 0)).toBe(true);
    expect(await stack.deadLetters()).toHaveLength(0);

    await sink.comeBack();
    await stack.waitUntilSent(events.map((event) => event.id));

    for (const event of events) {
      expect(sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
      expect(await stack.delivery(event.id)).toMatchObject({ status: 'sent', failedAttempts: 0 });
    }
    expect(await stack.deadLetters()).toHaveLength(0);
    expect((await readiness(port)).smtp).toBe('up');
    expect(await metricValue(port, 'signupflow_dependency_up', 'dependency="smtp"')).toBe(1);
    const log = await readFile(service.logFile, 'utf8');
    expect(log).toContain('smtp is unavailable: pausing the consumer');
    expect(log).toContain('smtp answers again: resuming the consumer');
    await service.stop();
  });

  it('when the server answers 421 (service not available), then it counts as an outage, not as an attempt', async () => {
    const { sink, service } = await inProcessWithOwnSink(TINY_BUDGET);
    const event = newUserCreatedEvent();
    let refusals = 0;
    sink.behaviour = () =>
      ++refusals <= 4 ? { kind: 'reject', code: 421, message: 'closing' } : { kind: 'accept' };

    await stack.publishAndWaitUntilSent(event);

    expect(sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    expect(await stack.delivery(event.id)).toMatchObject({ attempts: 5, failedAttempts: 0 });
    expect(await stack.deadLetters()).toHaveLength(0);
    await service.stop();
  });

  it("when the ledger's database is unreachable for longer than the budget, then the message is neither emailed, nor dead-lettered, nor lost, and is emailed once when it returns", async () => {
    const proxy = await TcpProxy.inFrontOf(stack.databaseUrl);
    onTestFileEnd(() => proxy.stop());
    const { sink, service } = await inProcessWithOwnSink({
      ...TINY_BUDGET,
      DATABASE_URL: proxy.rewrite(stack.databaseUrl),
    });
    const port = service.http.port;
    await proxy.cut();
    const event = newUserCreatedEvent();

    await stack.publish(event);
    await waitUntil('the consumer to pause for PostgreSQL', async () => {
      return (await metricValue(port, 'signupflow_dependency_up', 'dependency="postgres"')) === 0;
    });
    await sleep(OUTAGE_MS);
    expect(sink.received).toHaveLength(0);
    expect(await stack.deadLetters()).toHaveLength(0);
    const unready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(unready.status).toBe(503);
    expect(
      ((await unready.json()) as { dependencies: Record<string, string> }).dependencies,
    ).toMatchObject({ postgres: 'down', nats: 'up' });
    const held = await stack.jsm.consumers.info(STREAMS.users, WELCOME_EMAIL_CONSUMER);
    expect(held.num_pending + held.num_ack_pending).toBeGreaterThan(0);

    await proxy.restore();
    await stack.waitUntilSent([event.id]);
    await stack.waitUntilConsumerIdle();

    expect(sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    expect(await stack.delivery(event.id)).toMatchObject({ failedAttempts: 0 });
    expect(await stack.deadLetters()).toHaveLength(0);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    await service.stop();
  });

  it("when PostgreSQL stops answering right after the server's 250, then the ledger write waits for it and no second email is sent", async () => {
    const proxy = await TcpProxy.inFrontOf(stack.databaseUrl);
    onTestFileEnd(() => proxy.stop());
    const { sink, service } = await inProcessWithOwnSink({
      DATABASE_URL: proxy.rewrite(stack.databaseUrl),
      CLAIM_LEASE_MS: '1500',
    });
    const event = newUserCreatedEvent();
    sink.behaviour = () => ({ kind: 'accept-late', afterMs: 1_000 });

    await stack.publish(event);
    await waitUntil('the server to queue the message', async () => sink.received.length === 1);
    await proxy.cut();
    // Past the 250 and past the claim's lease, with the ledger away.
    await sleep(OUTAGE_MS);
    await proxy.restore();
    await stack.waitUntilSent([event.id]);
    await stack.waitUntilConsumerIdle();

    expect(sink.attempts).toHaveLength(1);
    expect(sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    await service.stop();
  });

  it('when the DLQ stream is gone as a message is refused for good, then the message is kept and dead-lettered once the stream exists again', async () => {
    // Provisioning off: nothing recreates the DLQ, so the message must wait for it.
    await (await inProcess()).stop();
    await stack.jsm.streams.delete(STREAMS.deadLetters);
    const { sink, service } = await inProcessWithOwnSink({
      ...TINY_BUDGET,
      NATS_PROVISION: 'false',
    });
    const event = newUserCreatedEvent();
    sink.behaviour = () => ({ kind: 'reject', code: 550, message: 'no such user' });

    await stack.publish(event);
    await waitUntil('the ledger to record the refusal', async () => {
      return (await stack.delivery(event.id))?.status === 'failed';
    });
    await sleep(OUTAGE_MS);
    const waiting = await stack.jsm.consumers.info(STREAMS.users, WELCOME_EMAIL_CONSUMER);
    expect(waiting.num_pending + waiting.num_ack_pending).toBeGreaterThan(0);

    await ensureStream(stack.jsm, dlqStreamConfig({ replicas: 1, maxAgeMs: 3_600_000 }));
    const [letter] = await stack.waitForDeadLetters(1);
    await stack.waitUntilConsumerIdle();

    expect(letter?.header.get(DLQ_HEADERS.originalMsgId)).toBe(event.id);
    expect(letter?.header.get(DLQ_HEADERS.reason)).toBe(DLQ_REASONS.smtpRejected);
    expect(await stack.deadLetters()).toHaveLength(1);
    expect(sink.attempts).toHaveLength(1);
    expect((await stack.delivery(event.id))?.deadLetteredAt).toBeInstanceOf(Date);
    await service.stop();
    await stack.jsm.streams.purge(STREAMS.deadLetters);
  });

  it('when someone deletes the DLQ stream while the service runs, then it is recreated when a dead letter needs it', async () => {
    const { sink, service } = await inProcessWithOwnSink();
    await stack.jsm.streams.delete(STREAMS.deadLetters);
    const event = newUserCreatedEvent();
    sink.behaviour = () => ({ kind: 'reject', code: 550, message: 'no such user' });

    await stack.publish(event);
    const [letter] = await stack.waitForDeadLetters(1);
    await stack.waitUntilConsumerIdle();

    expect(letter?.header.get(DLQ_HEADERS.originalMsgId)).toBe(event.id);
    expect(sink.attempts).toHaveLength(1);
    await service.stop();
    await stack.jsm.streams.purge(STREAMS.deadLetters);
  });

  it('when the server queues the message and answers 250 only after SMTP_TIMEOUT_MS and the claim lease, then one copy is sent, and a re-publish meanwhile sends nothing', async () => {
    const { sink, service } = await inProcessWithOwnSink({
      SMTP_TIMEOUT_MS: '1000',
      CLAIM_LEASE_MS: '1500',
    });
    const event = newUserCreatedEvent();
    sink.behaviour = () => ({ kind: 'accept-late', afterMs: 5_000 });

    await stack.publish(event);
    await waitUntil('the server to queue the message', async () => sink.received.length === 1);
    // The same event again (a re-publish past the stream's duplicate window) while the 250 is due.
    await stack.publishRaw(encodeEvent(event), `${event.id}-again`);
    await stack.waitUntilSent([event.id]);
    await stack.waitUntilConsumerIdle();

    expect(sink.attempts).toHaveLength(1);
    expect(sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    expect(await stack.delivery(event.id)).toMatchObject({ status: 'sent', attempts: 1 });
    await service.stop();
  });

  it('when a message outlives its processing deadline, then its send is stopped, one attempt is spent, and it is retried', async () => {
    const { sink, service } = await inProcessWithOwnSink({ MESSAGE_DEADLINE_MS: '1500' });
    const event = newUserCreatedEvent();
    // Never answered: only the deadline can end the first send.
    sink.stallFirstAttempt();

    await stack.publishAndWaitUntilSent(event);

    expect(sink.attempts).toHaveLength(2);
    expect(sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    expect(await stack.delivery(event.id)).toMatchObject({ attempts: 2, failedAttempts: 1 });
    await service.stop();
  });

  it('when someone deletes the durable consumer while the service runs, then it is recreated and the next email goes out, none twice', async () => {
    const service = await inProcess();
    const before = await stack.publishAndWaitUntilSent();

    await stack.jsm.consumers.delete(STREAMS.users, WELCOME_EMAIL_CONSUMER);
    const after = await stack.publishAndWaitUntilSent();
    await stack.waitUntilConsumerIdle();

    expect(stack.sink.withMessageId(welcomeMessageId(before.id))).toHaveLength(1);
    expect(stack.sink.withMessageId(welcomeMessageId(after.id))).toHaveLength(1);
    expect(await readFile(service.logFile, 'utf8')).toContain('is missing: recreating it');
    await service.stop();
  });

  it('when the consumer is deleted and NATS_PROVISION=false, then readiness turns 503 and the log names what is missing', async () => {
    const service = await asProcess({ NATS_PROVISION: 'false' });

    await stack.jsm.consumers.delete(STREAMS.users, WELCOME_EMAIL_CONSUMER);
    // Ends the pull in progress at once, so the service looks the consumer up again.
    await waitUntil('readiness to fail', async () => {
      const response = await fetch(`http://127.0.0.1:${service.port}/readyz`);
      return response.status === 503;
    });

    expect((await readiness(service.port)).consumer).toBe('down');
    // The log line travels through the child's pipe, so it can reach the file after readiness.
    await waitUntil('the log to name the missing consumer', async () =>
      (await readFile(service.logFile, 'utf8')).includes(
        `consumer ${WELCOME_EMAIL_CONSUMER} on USERS is missing and NATS_PROVISION=false`,
      ),
    );
    await service.stop();
    // Leave the consumer as the other tests expect it.
    await (await inProcess()).stop();
  });

  it('when SIGTERM cuts off a send that outlasts the grace period, then the claim is released first and another replica sends the email within seconds, once', async () => {
    const sink = await startSmtpSink();
    const env = { SMTP_URL: sink.url, CLAIM_LEASE_MS: '60000', SHUTDOWN_TIMEOUT_MS: '6000' };
    const first = await asProcess(env);
    const event = newUserCreatedEvent();
    // Never answered: the first send outlasts any grace period.
    sink.stallFirstAttempt();
    await stack.publish(event);
    await waitUntil('the send to start', async () => sink.attempts.length === 1);
    const second = await asProcess(env);

    await first.process.stop();
    expect(await first.process.exited()).toBe(0);
    // A 60 s lease: only a released claim lets the second replica send within this wait.
    await stack.waitUntilSent([event.id], 20_000);

    await first.process.logWritten();
    expect(await readFile(first.logFile, 'utf8')).toContain('handing them to another replica');
    expect(sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    expect(await stack.delivery(event.id)).toMatchObject({ attempts: 2, failedAttempts: 0 });
    await second.stop();
  });

  it('when every attempt fails transiently, then the waits between them are RETRY_BACKOFF_MS as documented', async () => {
    const { sink, service } = await inProcessWithOwnSink({ RETRY_BACKOFF_MS: '1000,4000,4000' });
    const event = newUserCreatedEvent();
    sink.behaviour = () => ({ kind: 'reject', code: 451, message: 'mailbox busy' });

    await stack.publish(event);
    await stack.waitForDeadLetters((await stack.deadLetters()).length + 1);

    const at = sink.attempts.map((attempt) => attempt.at.getTime());
    const gaps = at.slice(1).map((time, index) => time - (at[index] ?? 0));
    expect(gaps).toHaveLength(2);
    // The server redelivers a nak'd message after exactly its delay; the slack is this machine's.
    expect(gaps[0]).toBeGreaterThanOrEqual(1000);
    // The BackOff list this replaces made them 4 s and 7 s here (README "Retries").
    expect(gaps[0]).toBeLessThan(3500);
    expect(gaps[1]).toBeGreaterThanOrEqual(4000);
    expect(gaps[1]).toBeLessThan(6500);
    expect(await stack.delivery(event.id)).toMatchObject({ status: 'failed', failedAttempts: 3 });
    await service.stop();
    await stack.jsm.streams.purge(STREAMS.deadLetters);
  });
});
