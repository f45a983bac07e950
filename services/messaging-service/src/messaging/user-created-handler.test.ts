import type { JsMsg } from '@nats-io/jetstream';
import { createUserCreatedEvent, encodeEvent } from '@signup-flow/events';
import { createLogger } from '@signup-flow/service-runtime';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ClaimResult, Delivery } from '../data/delivery-ledger.js';
import type { WelcomeEmailLedger } from '../domain/send-welcome-email.js';
import type { Mailer, SendResult } from '../mail/smtp-mailer.js';
import { MessagingMetrics } from '../metrics.js';
import { type DeadLetter, DLQ_REASONS, type OriginalMessage } from './dead-letters.js';
import { OUTCOMES } from './settlement.js';
import { createUserCreatedHandler } from './user-created-handler.js';

const BACKOFF = [1000, 5000, 30000];

const event = createUserCreatedEvent({
  source: '/user-service',
  data: {
    userId: '0190a3c4-1111-7000-8000-000000000001',
    email: 'ada@example.test',
    name: 'Ada',
    createdAt: '2026-11-29T04:00:00.000Z',
  },
});

/** A delivered message that records how it was settled. */
function deliveredMessage(data: Uint8Array, deliveryCount: number) {
  const settled: string[] = [];
  const message = {
    data,
    subject: 'users.created',
    headers: undefined,
    info: { stream: 'USERS', streamSequence: 7, deliveryCount },
    ack: () => settled.push('ack'),
    nak: (delay?: number) => settled.push(`nak ${delay}`),
    term: (reason?: string) => settled.push(`term ${reason}`),
    working: () => undefined,
  };
  return { message: message as unknown as JsMsg, settled };
}

function fakeDelivery(attempts: number): Delivery {
  const at = new Date('2026-11-29T04:00:01.000Z');
  return {
    eventId: event.id,
    userId: event.data.userId,
    status: 'failed',
    attempts,
    messageId: `<${event.id}@signup-flow>`,
    firstFailedAt: at,
    lastFailedAt: at,
    lastError: 'x',
    sentAt: null,
  };
}

function setUp(options: { claim?: ClaimResult | Error; send?: SendResult } = {}) {
  const calls: string[] = [];
  const letters: Array<{ original: OriginalMessage; letter: DeadLetter }> = [];
  const ledger: WelcomeEmailLedger = {
    async claim() {
      calls.push('claim');
      const claim = options.claim ?? { kind: 'claimed', attempts: 1 };
      if (claim instanceof Error) throw claim;
      return claim;
    },
    async markSent() {
      calls.push('markSent');
    },
    async markRetrying() {
      calls.push('markRetrying');
      return fakeDelivery(1);
    },
    async markFailed() {
      calls.push('markFailed');
      return fakeDelivery(3);
    },
  };
  const mailer: Mailer = {
    async send() {
      calls.push('send');
      return options.send ?? { ok: true, response: '250 OK' };
    },
    close: () => undefined,
  };
  const handle = createUserCreatedHandler({
    ledger,
    mailer,
    claimLeaseMs: 10_000,
    deadLetters: {
      async publish(original, letter) {
        letters.push({ original, letter });
        return true;
      },
    },
    metrics: new MessagingMetrics(new Registry(), async () => undefined),
    logger: createLogger({ service: 'test', level: 'silent' }),
    retryBackoffMs: BACKOFF,
    maxEventBytes: 4096,
  });
  return { handle, calls, letters };
}

describe('UserCreated handler', () => {
  it('when the email is accepted, then the ledger records it and the message is acked', async () => {
    const { handle, calls } = setUp();
    const { message, settled } = deliveredMessage(encodeEvent(event), 1);

    expect(await handle(message)).toEqual({ outcome: OUTCOMES.sent });
    expect(calls).toEqual(['claim', 'send', 'markSent']);
    expect(settled).toEqual(['ack']);
  });

  it('when the ledger says it was sent, then the message is acked without sending', async () => {
    const { handle, calls } = setUp({ claim: { kind: 'already-sent' } });
    const { message, settled } = deliveredMessage(encodeEvent(event), 2);

    expect(await handle(message)).toEqual({ outcome: OUTCOMES.alreadySent });
    expect(calls).toEqual(['claim']);
    expect(settled).toEqual(['ack']);
  });

  it("when a transient failure hits delivery 2, then the message is nak'd with the second backoff delay", async () => {
    const { handle, calls } = setUp({ send: { ok: false, permanent: false, reason: '421' } });
    const { message, settled } = deliveredMessage(encodeEvent(event), 2);

    expect(await handle(message)).toMatchObject({ outcome: OUTCOMES.retried, delayMs: 5000 });
    expect(calls).toEqual(['claim', 'send', 'markRetrying']);
    expect(settled).toEqual(['nak 5000']);
  });

  it('when a transient failure hits the last delivery, then the ledger says failed and the message is dead-lettered', async () => {
    const { handle, calls, letters } = setUp({
      send: { ok: false, permanent: false, reason: '421' },
    });
    const { message, settled } = deliveredMessage(encodeEvent(event), 3);

    expect(await handle(message)).toEqual({
      outcome: OUTCOMES.deadLettered,
      reason: DLQ_REASONS.maxDeliveries,
    });
    expect(calls).toEqual(['claim', 'send', 'markFailed']);
    expect(letters[0]?.letter).toMatchObject({ reason: DLQ_REASONS.maxDeliveries, attempts: 3 });
    expect(settled).toEqual([`term ${DLQ_REASONS.maxDeliveries}`]);
  });

  it('when another consumer holds the claim, then the message waits for it; on the last delivery it is dead-lettered', async () => {
    const busy = setUp({ claim: { kind: 'claimed-elsewhere', claimExpiresInMs: 4200 } });
    const early = deliveredMessage(encodeEvent(event), 1);
    const last = deliveredMessage(encodeEvent(event), 3);

    expect(await busy.handle(early.message)).toEqual({ outcome: OUTCOMES.deferred, delayMs: 4200 });
    expect(await busy.handle(last.message)).toMatchObject({ outcome: OUTCOMES.deadLettered });
    expect(early.settled).toEqual(['nak 4200']);
    expect(last.settled).toEqual([`term ${DLQ_REASONS.maxDeliveries}`]);
    expect(busy.calls).not.toContain('send');
  });

  it("when the ledger cannot be reached, then nothing is sent and the message is nak'd with the backoff", async () => {
    const { handle, calls, letters } = setUp({ claim: new Error('connect ECONNREFUSED') });
    const { message, settled } = deliveredMessage(encodeEvent(event), 1);

    expect(await handle(message)).toMatchObject({ outcome: OUTCOMES.retried, delayMs: 1000 });
    expect(calls).toEqual(['claim']);
    expect(letters).toHaveLength(0);
    expect(settled).toEqual(['nak 1000']);
  });

  it('when the body is too large or not an event, then it is dead-lettered at once without touching the ledger', async () => {
    const { handle, calls, letters } = setUp();
    const large = deliveredMessage(new Uint8Array(5000), 1);
    const garbage = deliveredMessage(new TextEncoder().encode('ada@example.test'), 1);

    await handle(large.message);
    await handle(garbage.message);

    expect(letters.map(({ letter }) => letter.reason)).toEqual([
      DLQ_REASONS.tooLarge,
      DLQ_REASONS.notJson,
    ]);
    expect(letters[0]?.original).toMatchObject({ stream: 'USERS', streamSequence: 7 });
    // V8's JSON error quotes the body; the detail must not carry the address.
    expect(letters[1]?.letter.detail).toContain('<address>');
    expect(letters[1]?.letter.detail).not.toContain('ada@example.test');
    expect(calls).toEqual([]);
    expect([...large.settled, ...garbage.settled]).toEqual([
      `term ${DLQ_REASONS.tooLarge}`,
      `term ${DLQ_REASONS.notJson}`,
    ]);
  });
});
