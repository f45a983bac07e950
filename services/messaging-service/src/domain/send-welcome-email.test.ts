import { createUserCreatedEvent } from '@signup-flow/events';
import { describe, expect, it } from 'vitest';
import type { Claim, Delivery } from '../data/delivery-ledger.js';
import { type Mailer, SEND_FAILURES, type SendResult } from '../mail/smtp-mailer.js';
import {
  LedgerUnavailableError,
  ProcessingStopped,
  STOP_CAUSES,
  sendWelcomeEmail,
  type WelcomeEmailLedger,
} from './send-welcome-email.js';

const event = createUserCreatedEvent({
  source: '/user-service',
  data: {
    userId: '0190a3c4-1111-7000-8000-000000000002',
    email: 'grace@example.test',
    name: 'Grace',
    createdAt: '2026-11-29T04:00:00.000Z',
  },
});

const CLAIM: Claim = { eventId: event.id, token: 'token-1', attempts: 1, failedAttempts: 0 };

function retrying(failedAttempts: number): Delivery {
  return {
    eventId: event.id,
    userId: event.data.userId,
    status: 'retrying',
    attempts: failedAttempts + 1,
    failedAttempts,
    messageId: `<${event.id}@signup-flow>`,
    firstFailedAt: new Date(),
    lastFailedAt: new Date(),
    lastError: '451',
    sentAt: null,
    deadLetteredAt: null,
  };
}

interface FakeOptions {
  /** How many markSent calls fail before one succeeds. */
  markSentFailures?: number;
  /** What each renewal answers (true: held); a thrown error is an unreachable ledger. */
  renew?: () => Promise<boolean>;
  send?: (signal: AbortSignal) => Promise<SendResult>;
}

function fakes(options: FakeOptions = {}) {
  const calls: string[] = [];
  let markSentFailures = options.markSentFailures ?? 0;
  const ledger: WelcomeEmailLedger = {
    async claim() {
      calls.push('claim');
      return { kind: 'claimed', claim: CLAIM };
    },
    async renew() {
      calls.push('renew');
      return options.renew ? options.renew() : true;
    },
    async markSent() {
      calls.push('markSent');
      if (markSentFailures-- > 0) throw new Error('connect ECONNREFUSED');
      return { held: true };
    },
    async release() {
      calls.push('release');
      return true;
    },
    async recordFailure(_claim, report) {
      calls.push(`recordFailure ${report.permanent ? 'permanent' : 'transient'}`);
      return retrying(1);
    },
  };
  const mailer: Mailer = {
    async send(_email, signal) {
      calls.push('send');
      return options.send && signal ? options.send(signal) : { ok: true, response: '250' };
    },
    probe: async () => undefined,
    close: () => undefined,
  };
  return { ledger, mailer, calls };
}

/** A send that ends only when its signal aborts. */
const untilAborted = (signal: AbortSignal): Promise<SendResult> =>
  new Promise((resolve) => {
    const aborted = () => resolve({ ok: false, failure: SEND_FAILURES.aborted, reason: 'aborted' });
    if (signal.aborted) aborted();
    else signal.addEventListener('abort', aborted);
  });

function run(
  deps: ReturnType<typeof fakes>,
  overrides: { claimLeaseMs?: number; signal?: AbortSignal } = {},
) {
  return sendWelcomeEmail(
    {
      ledger: deps.ledger,
      mailer: deps.mailer,
      claimLeaseMs: overrides.claimLeaseMs ?? 60_000,
      attemptBudget: 3,
    },
    { event, replay: false, signal: overrides.signal ?? new AbortController().signal },
  );
}

describe('sendWelcomeEmail', () => {
  it('when the ledger is away right after the 250, then `sent` is written as soon as it answers, never given up', async () => {
    const deps = fakes({ markSentFailures: 2 });

    const result = await run(deps);

    expect(result).toMatchObject({ kind: 'sent', overlapped: false });
    expect(deps.calls).toEqual(['claim', 'send', 'markSent', 'markSent', 'markSent']);
  });

  it('when the message is stopped while `sent` cannot be written, then it gives up with the ledger error', async () => {
    const stop = new AbortController();
    stop.abort(new ProcessingStopped(STOP_CAUSES.shutdown));
    const deps = fakes({ markSentFailures: 1 });

    await expect(run(deps, { signal: stop.signal })).rejects.toThrow('ECONNREFUSED');
  });

  it('when the claim is taken over during the send, then the send is stopped and nothing is written', async () => {
    const deps = fakes({ renew: async () => false, send: untilAborted });

    const result = await run(deps, { claimLeaseMs: 150 });

    expect(result.kind).toBe('claimed-elsewhere');
    expect(deps.calls.filter((call) => !call.startsWith('renew'))).toEqual(['claim', 'send']);
  });

  it('when no renewal reaches the ledger, then the send is stopped before the lease can run out, as a ledger outage', async () => {
    const deps = fakes({
      renew: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      send: untilAborted,
    });

    await expect(run(deps, { claimLeaseMs: 300 })).rejects.toBeInstanceOf(LedgerUnavailableError);
  });

  it('when renewals succeed, then a send longer than the lease goes on', async () => {
    const deps = fakes({
      send: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_400));
        return { ok: true, response: '250' };
      },
    });

    const result = await run(deps, { claimLeaseMs: 600 });

    expect(result.kind).toBe('sent');
    expect(deps.calls.filter((call) => call === 'renew').length).toBeGreaterThan(0);
  });

  it('when shutdown stops the send, then the claim is released and nothing is spent', async () => {
    const stop = new AbortController();
    const deps = fakes({ send: untilAborted });

    const sending = run(deps, { signal: stop.signal });
    stop.abort(new ProcessingStopped(STOP_CAUSES.shutdown));

    expect(await sending).toEqual({ kind: 'interrupted' });
    expect(deps.calls).toEqual(['claim', 'send', 'release']);
  });

  it('when the deadline stops the send, then it costs an attempt (the server may have the message)', async () => {
    const stop = new AbortController();
    const deps = fakes({ send: untilAborted });

    const sending = run(deps, { signal: stop.signal });
    stop.abort(new ProcessingStopped(STOP_CAUSES.deadline));

    expect(await sending).toMatchObject({ kind: 'will-retry', failedAttempts: 1 });
    expect(deps.calls).toEqual(['claim', 'send', 'recordFailure transient']);
  });

  it('when the server is unavailable, then the claim is released and nothing is spent', async () => {
    const deps = fakes({
      send: async () => ({ ok: false, failure: SEND_FAILURES.serverUnavailable, reason: '421' }),
    });

    expect(await run(deps)).toEqual({ kind: 'server-unavailable', reason: '421' });
    expect(deps.calls).toEqual(['claim', 'send', 'release']);
  });

  it('when the server refuses for good, then the failure is reported as permanent', async () => {
    const deps = fakes({
      send: async () => ({ ok: false, failure: SEND_FAILURES.permanent, reason: '550' }),
    });

    await run(deps);

    expect(deps.calls).toEqual(['claim', 'send', 'recordFailure permanent']);
  });
});
