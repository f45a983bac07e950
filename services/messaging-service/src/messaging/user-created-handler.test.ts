import { Writable } from 'node:stream';
import type { JsMsg } from '@nats-io/jetstream';
import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { createUserCreatedEvent, encodeEvent } from '@signup-flow/events';
import { createLogger } from '@signup-flow/service-runtime';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ClaimRequest, ClaimResult, Delivery } from '../data/delivery-ledger.js';
import { ProcessingStopped, STOP_CAUSES } from '../domain/send-welcome-email.js';
import { type Mailer, SEND_FAILURES, type SendResult } from '../mail/smtp-mailer.js';
import { MessagingMetrics } from '../metrics.js';
import {
  type DeadLetter,
  DLQ_REASONS,
  type OriginalMessage,
  REPLAYED_FROM_HEADER,
} from './dead-letters.js';
import { DependencyGate } from './dependency-gate.js';
import { OUTCOMES } from './settlement.js';
import { createUserCreatedHandler, DEPENDENCY_RETRY_MS } from './user-created-handler.js';

const BACKOFF = [1000, 5000, 30000];
const logger = createLogger({ service: 'test', level: 'silent' });
const DEAD_LETTERS = 'signupflow_dead_letters_total';

const event = createUserCreatedEvent({
  source: '/user-service',
  data: {
    userId: '0190a3c4-1111-7000-8000-000000000001',
    email: 'ada@example.test',
    name: 'Ada',
    createdAt: '2026-11-29T04:00:00.000Z',
  },
});

/** A delivered message that records how it was settled, in order with the ledger's calls. */
function deliveredMessage(calls: string[], data: Uint8Array, headers?: MsgHdrs, deliveryCount = 1) {
  const message = {
    data,
    subject: 'users.created',
    headers,
    info: { stream: 'USERS', streamSequence: 7, deliveryCount },
    ack: () => calls.push('ack'),
    nak: (delay?: number) => calls.push(`nak ${delay}`),
    term: (reason?: string) => calls.push(`term ${reason}`),
    working: () => undefined,
  };
  return message as unknown as JsMsg;
}

function delivery(overrides: Partial<Delivery>): Delivery {
  const at = new Date('2026-11-29T04:00:01.000Z');
  return {
    eventId: event.id,
    userId: event.data.userId,
    status: 'failed',
    attempts: 1,
    failedAttempts: 1,
    messageId: `<${event.id}@signup-flow>`,
    firstFailedAt: at,
    lastFailedAt: at,
    lastError: '451 later',
    sentAt: null,
    deadLetteredAt: null,
    ...overrides,
  };
}

interface SetUpOptions {
  claim?: ClaimResult | Error;
  send?: SendResult | ((signal: AbortSignal) => Promise<SendResult>);
  /** What recordFailure answers. */
  failure?: Delivery;
  dlqFails?: boolean;
  /** What the DLQ's publish answers: false for a copy it already held. */
  dlqStores?: boolean;
}

function setUp(options: SetUpOptions = {}) {
  const calls: string[] = [];
  const claims: ClaimRequest[] = [];
  const letters: Array<{ original: OriginalMessage; letter: DeadLetter }> = [];
  const deadLetterFailures: unknown[] = [];
  const claim = { eventId: event.id, token: 'token-1', attempts: 1, failedAttempts: 0 };
  let overlapping = false;
  const mailer: Mailer = {
    async send(_email, signal) {
      calls.push('send');
      const send = options.send ?? { ok: true, response: '250 OK' };
      return typeof send === 'function' && signal ? send(signal) : (send as SendResult);
    },
    probe: async () => undefined,
    close: () => undefined,
  };
  const gate = (name: string) =>
    new DependencyGate({ name, probe: () => new Promise(() => undefined), logger });
  const gates = { smtp: gate('smtp'), postgres: gate('postgres') };
  const registry = new Registry();
  const logLines: Array<{ level: string; msg: string }> = [];
  const logSink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  /** A counter's sum over the matching series; a histogram's count of observations. */
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    // Histograms name each value (`_bucket`, `_sum`, `_count`); counters do not.
    const values: Array<{ value: number; labels: object; metricName?: string }> =
      (await registry.getSingleMetric(name)?.get())?.values ?? [];
    return values
      .filter((value) => value.metricName === undefined || value.metricName === `${name}_count`)
      .filter((value) =>
        Object.entries(labels).every(
          ([key, v]) => (value.labels as Record<string, unknown>)[key] === v,
        ),
      )
      .reduce((sum, value) => sum + value.value, 0);
  };
  const handle = createUserCreatedHandler({
    ledger: {
      async claim(request) {
        calls.push('claim');
        claims.push(request);
        const result = options.claim ?? { kind: 'claimed', claim };
        if (result instanceof Error) throw result;
        return result;
      },
      async renew() {
        return true;
      },
      async markSent() {
        calls.push('markSent');
        return { held: !overlapping };
      },
      async release() {
        calls.push('release');
        return true;
      },
      async recordFailure() {
        calls.push('recordFailure');
        return options.failure ?? delivery({ status: 'retrying', failedAttempts: 1 });
      },
      async markDeadLettered() {
        calls.push('markDeadLettered');
      },
    },
    mailer,
    claimLeaseMs: 10_000,
    deadLetters: {
      async publish(original, letter) {
        if (options.dlqFails) throw new Error('503 no responders');
        calls.push('dlq');
        letters.push({ original, letter });
        return options.dlqStores ?? true;
      },
    },
    gates,
    onDeadLetterFailure: (error) => deadLetterFailures.push(error),
    metrics: new MessagingMetrics(registry, async () => undefined),
    logger: createLogger({ service: 'test', level: 'info', destination: logSink }),
    retryBackoffMs: BACKOFF,
    maxEventBytes: 4096,
  });
  const run = (
    data = encodeEvent(event),
    headers?: MsgHdrs,
    signal = new AbortController().signal,
    deliveryCount = 1,
  ) => handle(deliveredMessage(calls, data, headers, deliveryCount), signal);
  const overlap = () => {
    overlapping = true;
  };
  return { run, calls, claims, letters, gates, deadLetterFailures, metric, logLines, overlap };
}

describe('UserCreated handler', () => {
  it('when the email is accepted, then the ledger records it and the message is acked', async () => {
    const { run, calls } = setUp();

    expect(await run()).toEqual({ outcome: OUTCOMES.sent });
    expect(calls).toEqual(['claim', 'send', 'markSent', 'ack']);
  });

  it('when the ledger says it was sent, then the message is acked without sending', async () => {
    const { run, calls } = setUp({ claim: { kind: 'already-sent' } });

    expect(await run()).toEqual({ outcome: OUTCOMES.alreadySent });
    expect(calls).toEqual(['claim', 'ack']);
  });

  it("when the recipient's mailbox answers 451 for the second time, then one attempt is spent and the message waits the second backoff entry", async () => {
    const { run, calls } = setUp({
      send: { ok: false, failure: SEND_FAILURES.messageTransient, reason: '451 busy' },
      failure: delivery({ status: 'retrying', failedAttempts: 2 }),
    });

    expect(await run()).toMatchObject({ outcome: OUTCOMES.retried, delayMs: 5000 });
    expect(calls).toEqual(['claim', 'send', 'recordFailure', 'nak 5000']);
  });

  it('when the last attempt of the budget fails, then the message is dead-lettered (max-deliveries) and terminated after the DLQ stored it', async () => {
    const { run, calls, letters } = setUp({
      send: { ok: false, failure: SEND_FAILURES.messageTransient, reason: '451 busy' },
      failure: delivery({ status: 'failed', failedAttempts: 3 }),
    });

    expect(await run()).toEqual({
      outcome: OUTCOMES.deadLettered,
      reason: DLQ_REASONS.maxDeliveries,
    });
    expect(calls).toEqual([
      'claim',
      'send',
      'recordFailure',
      'dlq',
      'markDeadLettered',
      `term ${DLQ_REASONS.maxDeliveries}`,
    ]);
    expect(letters[0]?.letter.attempts).toBe(3);
  });

  it('when the server refuses for good (5xx), then the message is dead-lettered as smtp-rejected', async () => {
    const { run } = setUp({
      send: { ok: false, failure: SEND_FAILURES.permanent, reason: '550 no such user' },
      failure: delivery({ status: 'failed', failedAttempts: 1 }),
    });

    expect(await run()).toEqual({
      outcome: OUTCOMES.deadLettered,
      reason: DLQ_REASONS.smtpRejected,
    });
  });

  it('when the mail server is unavailable, then the claim is released, nothing is spent, the smtp gate closes and the message waits', async () => {
    const { run, calls, gates } = setUp({
      send: { ok: false, failure: SEND_FAILURES.serverUnavailable, reason: 'ECONNECTION' },
    });

    expect(await run()).toMatchObject({
      outcome: OUTCOMES.waitingForDependency,
      dependency: 'smtp',
    });
    expect(calls).toEqual(['claim', 'send', 'release', `nak ${DEPENDENCY_RETRY_MS}`]);
    expect(gates.smtp.isUp).toBe(false);
    gates.smtp.close();
  });

  it('when the ledger cannot be reached, then nothing is sent, the postgres gate closes and the message waits', async () => {
    const { run, calls, gates } = setUp({ claim: new Error('connect ECONNREFUSED') });

    expect(await run()).toMatchObject({
      outcome: OUTCOMES.waitingForDependency,
      dependency: 'postgres',
    });
    expect(calls).toEqual(['claim', `nak ${DEPENDENCY_RETRY_MS}`]);
    expect(gates.postgres.isUp).toBe(false);
    gates.postgres.close();
  });

  it('when the DLQ cannot store a dead letter, then the message is not terminated but kept for a later delivery', async () => {
    const { run, calls, deadLetterFailures } = setUp({ dlqFails: true });

    const settlement = await run(new TextEncoder().encode('{"not json'));

    expect(settlement).toMatchObject({
      outcome: OUTCOMES.waitingForDependency,
      dependency: 'dlq',
    });
    expect(calls).toEqual([`nak ${DEPENDENCY_RETRY_MS}`]);
    expect(deadLetterFailures).toHaveLength(1);
  });

  it('when the ledger already decided to dead-letter (a redelivery after the DLQ failed), then it is dead-lettered without a send', async () => {
    const { run, calls } = setUp({
      claim: { kind: 'dead-lettered', delivery: delivery({ failedAttempts: 3 }) },
    });

    expect(await run()).toMatchObject({ outcome: OUTCOMES.deadLettered });
    expect(calls).not.toContain('send');
    expect(calls.at(-1)).toBe(`term ${DLQ_REASONS.maxDeliveries}`);
  });

  it('when shutdown stops a send, then the claim is released before the message is nak’d', async () => {
    const stop = new AbortController();
    const { run, calls } = setUp({
      send: (signal) =>
        new Promise((resolve) => {
          const aborted = () =>
            resolve({ ok: false, failure: SEND_FAILURES.aborted, reason: 'aborted' });
          if (signal.aborted) aborted();
          else signal.addEventListener('abort', aborted);
        }),
    });

    const settled = run(undefined, undefined, stop.signal);
    stop.abort(new ProcessingStopped(STOP_CAUSES.shutdown));

    expect(await settled).toEqual({ outcome: OUTCOMES.interrupted });
    expect(calls).toEqual(['claim', 'send', 'release', 'nak undefined']);
  });

  it('when a message is a DLQ replay, then the claim may reopen a failed delivery; otherwise not', async () => {
    const { run, claims } = setUp();
    const replay = createHeaders();
    replay.set(REPLAYED_FROM_HEADER, '12');

    await run();
    await run(undefined, replay);

    expect(claims.map((claim) => claim.reopenFailed)).toEqual([false, true]);
  });

  it('when the body is too large or not an event, then it is dead-lettered at once without touching the ledger', async () => {
    const { run, calls, letters } = setUp();

    await run(new Uint8Array(5000));
    await run(new TextEncoder().encode('{"not json'));

    expect(calls.filter((call) => call === 'claim')).toHaveLength(0);
    expect(letters.map(({ letter }) => letter.reason)).toEqual([
      DLQ_REASONS.tooLarge,
      DLQ_REASONS.notJson,
    ]);
  });

  it('when a dead letter is stored, then the dead-letter metric counts it; a copy the DLQ already held is not counted', async () => {
    const stored = setUp({ dlqStores: true });
    const copy = setUp({ dlqStores: false });

    await stored.run(new TextEncoder().encode('{"not json'));
    await copy.run(new TextEncoder().encode('{"not json'));

    expect(await stored.metric(DEAD_LETTERS, { reason: DLQ_REASONS.notJson })).toBe(1);
    expect(await copy.metric(DEAD_LETTERS, { reason: DLQ_REASONS.notJson })).toBe(0);
    expect(copy.calls.at(-1)).toBe(`term ${DLQ_REASONS.notJson}`);
  });

  it('when a message comes again (delivery 2), then it counts as a redelivery; a first delivery does not', async () => {
    const { run, metric } = setUp();

    await run(undefined, undefined, undefined, 1);
    expect(await metric('signupflow_message_redeliveries_total')).toBe(0);
    await run(undefined, undefined, undefined, 2);

    expect(await metric('signupflow_message_redeliveries_total')).toBe(1);
  });

  it('when the email is accepted, then its signup-to-email latency is observed once; otherwise not', async () => {
    const sent = setUp();
    const refused = setUp({
      send: { ok: false, failure: SEND_FAILURES.permanent, reason: '550' },
      failure: delivery({ status: 'failed' }),
    });

    await sent.run();
    await refused.run();

    const observed = async (setup: typeof sent) =>
      (await setup.metric('signupflow_signup_to_email_latency_seconds')) > 0;
    expect(await observed(sent)).toBe(true);
    expect(await observed(refused)).toBe(false);
  });

  it('when the body is exactly MAX_EVENT_BYTES, then it is processed; one byte more, and it is dead-lettered', async () => {
    const { run, letters, calls } = setUp();
    const encoded = new TextDecoder().decode(encodeEvent(event));
    const atLimit = new TextEncoder().encode(encoded.padEnd(4096, ' '));
    const overLimit = new TextEncoder().encode(encoded.padEnd(4097, ' '));

    expect(await run(atLimit)).toEqual({ outcome: OUTCOMES.sent });
    expect(await run(overLimit)).toMatchObject({ outcome: OUTCOMES.deadLettered });
    expect(letters.map(({ letter }) => letter.reason)).toEqual([DLQ_REASONS.tooLarge]);
    expect(letters[0]?.letter.detail).toBe('body of 4097 bytes exceeds 4096');
    expect(calls.filter((call) => call === 'send')).toHaveLength(1);
  });

  it('when the DLQ already holds the event (a re-publish of a dead-lettered event), then it is terminated without a second dead letter', async () => {
    const { run, calls, letters } = setUp({
      claim: {
        kind: 'dead-lettered',
        delivery: delivery({ deadLetteredAt: new Date('2026-11-29T05:00:00.000Z') }),
      },
    });

    expect(await run()).toEqual({
      outcome: OUTCOMES.deadLettered,
      reason: 'already-dead-lettered',
    });
    expect(letters).toHaveLength(0);
    expect(calls).toEqual(['claim', 'term already dead-lettered']);
  });

  it('when an email is accepted after its claim was taken over, then an error says two sends overlapped', async () => {
    const overlapped = setUp();
    const normal = setUp();
    overlapped.overlap();

    await overlapped.run();
    await normal.run();

    const errors = (setup: typeof normal) =>
      setup.logLines.filter((line) => line.level === 'error').map((line) => line.msg);
    expect(errors(overlapped)).toEqual([
      'email accepted after its claim was taken over: two sends overlapped',
    ]);
    expect(errors(normal)).toEqual([]);
  });
});
