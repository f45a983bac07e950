import { randomUUID } from 'node:crypto';
import { createDatabase, migrateToLatest } from '@signup-flow/postgres';
import { createTestDatabase } from '@signup-flow/testing';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Claim,
  type ClaimRequest,
  DELIVERY_STATUSES,
  DeliveryLedger,
} from './delivery-ledger.js';
import { MIGRATIONS } from './migrations.js';

let db: Knex;
let ledger: DeliveryLedger;

beforeAll(async () => {
  db = createDatabase({
    url: await createTestDatabase('ledger'),
    poolMax: 24,
    applicationName: 'ledger test',
  });
  await migrateToLatest(db, MIGRATIONS);
  ledger = new DeliveryLedger(db);
});

afterAll(() => db.destroy());

function request(
  eventId: string = randomUUID(),
  overrides: Partial<ClaimRequest> = {},
): ClaimRequest {
  return {
    eventId,
    userId: randomUUID(),
    messageId: `<${eventId}@signup-flow>`,
    leaseMs: 60_000,
    reopenFailed: false,
    ...overrides,
  };
}

async function claimNew(overrides: Partial<ClaimRequest> = {}): Promise<Claim> {
  const result = await ledger.claim(request(randomUUID(), overrides));
  if (result.kind !== 'claimed') throw new Error(`expected a claim, got ${result.kind}`);
  return result.claim;
}

async function claimAgain(eventId: string, overrides: Partial<ClaimRequest> = {}) {
  return ledger.claim(request(eventId, overrides));
}

/** Makes a live lease run out without waiting for it. */
async function expire(eventId: string): Promise<void> {
  await db('deliveries')
    .where({ event_id: eventId })
    .update({ claimed_until: db.raw("now() - interval '1 second'") });
}

const failure = (overrides: { permanent?: boolean; budget?: number } = {}) => ({
  error: '451 try later',
  permanent: false,
  budget: 3,
  ...overrides,
});

describe('DeliveryLedger', () => {
  it('when twenty consumers claim one event at once, then exactly one wins', async () => {
    const eventId = randomUUID();

    const results = await Promise.all(Array.from({ length: 20 }, () => claimAgain(eventId)));

    expect(results.filter((result) => result.kind === 'claimed')).toHaveLength(1);
    expect(results.filter((result) => result.kind === 'claimed-elsewhere')).toHaveLength(19);
  });

  it('when a claim is live, then nobody else can claim it; once its lease ran out, one can', async () => {
    const claim = await claimNew();

    const whileLive = await claimAgain(claim.eventId);
    await expire(claim.eventId);
    const afterExpiry = await claimAgain(claim.eventId);

    expect(whileLive.kind).toBe('claimed-elsewhere');
    if (whileLive.kind === 'claimed-elsewhere') {
      // The lease the claim asked for: 60 s, not more.
      expect(whileLive.claimExpiresInMs).toBeGreaterThan(50_000);
      expect(whileLive.claimExpiresInMs).toBeLessThanOrEqual(60_000);
    }
    expect(afterExpiry.kind).toBe('claimed');
  });

  it('when a holder renews its lease, then it stays live; after a take-over, renewal says it is lost', async () => {
    const claim = await claimNew({ leaseMs: 1_000 });
    expect(await ledger.renew(claim, 60_000)).toBe(true);
    const renewed = await claimAgain(claim.eventId);
    expect(renewed.kind).toBe('claimed-elsewhere');
    if (renewed.kind === 'claimed-elsewhere') {
      expect(renewed.claimExpiresInMs).toBeGreaterThan(50_000);
      expect(renewed.claimExpiresInMs).toBeLessThanOrEqual(60_000);
    }

    await expire(claim.eventId);
    const takeover = await claimAgain(claim.eventId);

    expect(takeover.kind).toBe('claimed');
    expect(await ledger.renew(claim, 60_000)).toBe(false);
  });

  it("when a stale holder reports a failure or releases, then the new holder's claim is untouched", async () => {
    const stale = await claimNew();
    await expire(stale.eventId);
    const takeover = await claimAgain(stale.eventId);
    if (takeover.kind !== 'claimed') throw new Error('no take-over');

    const staleFailure = await ledger.recordFailure(stale, failure({ permanent: true }));
    const staleRelease = await ledger.release(stale);

    expect(staleFailure).toBeUndefined();
    expect(staleRelease).toBe(false);
    expect(await ledger.find(stale.eventId)).toMatchObject({
      status: DELIVERY_STATUSES.sending,
      failedAttempts: 0,
    });
    expect((await claimAgain(stale.eventId)).kind).toBe('claimed-elsewhere');
    expect(await ledger.renew(takeover.claim, 60_000)).toBe(true);
  });

  it('when the SMTP server accepted, then the delivery is sent for good: no failure report or claim reopens it', async () => {
    const claim = await claimNew();
    expect(await ledger.markSent(claim)).toEqual({ held: true });
    // A second report of the same 250 changes nothing, and did not hold the (now gone) claim.
    expect(await ledger.markSent(claim)).toEqual({ held: false });

    expect(await ledger.recordFailure(claim, failure({ permanent: true }))).toBeUndefined();
    expect(await ledger.release(claim)).toBe(false);
    expect((await claimAgain(claim.eventId, { reopenFailed: true })).kind).toBe('already-sent');
    expect(await ledger.find(claim.eventId)).toMatchObject({ status: DELIVERY_STATUSES.sent });
  });

  it("when a stale holder hears the server's 250, then it is recorded and it says the claim was not its own", async () => {
    const stale = await claimNew();
    await expire(stale.eventId);
    const takeover = await claimAgain(stale.eventId);
    if (takeover.kind !== 'claimed') throw new Error('no take-over');

    expect(await ledger.markSent(stale)).toEqual({ held: false });
    expect((await claimAgain(stale.eventId)).kind).toBe('already-sent');
  });

  it('when attempts fail, then each spends one of the budget and the last one fails the delivery', async () => {
    let claim = await claimNew();
    const reports = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      reports.push(await ledger.recordFailure(claim, failure({ budget: 3 })));
      const next = await claimAgain(claim.eventId);
      if (next.kind === 'claimed') claim = next.claim;
      else expect(next.kind).toBe('dead-lettered');
    }

    expect(reports.map((report) => [report?.status, report?.failedAttempts])).toEqual([
      ['retrying', 1],
      ['retrying', 2],
      ['failed', 3],
    ]);
  });

  it('when the server is unavailable and the claim is released, then no attempt is spent', async () => {
    let claim = await claimNew();
    for (let outage = 0; outage < 5; outage++) {
      expect(await ledger.release(claim)).toBe(true);
      const next = await claimAgain(claim.eventId);
      if (next.kind !== 'claimed') throw new Error(`expected a claim, got ${next.kind}`);
      claim = next.claim;
    }

    expect(await ledger.find(claim.eventId)).toMatchObject({ attempts: 6, failedAttempts: 0 });
  });

  it('when a refusal is permanent, then the delivery fails at once; only a replay reopens it, with a fresh budget', async () => {
    const claim = await claimNew();
    const failed = await ledger.recordFailure(claim, failure({ permanent: true, budget: 5 }));

    const redelivered = await claimAgain(claim.eventId);
    await ledger.markDeadLettered(claim.eventId);
    const replayed = await claimAgain(claim.eventId, { reopenFailed: true });

    expect(failed).toMatchObject({ status: 'failed', failedAttempts: 1 });
    expect(redelivered.kind).toBe('dead-lettered');
    expect(replayed.kind).toBe('claimed');
    if (replayed.kind === 'claimed') expect(replayed.claim.failedAttempts).toBe(0);
    expect(await ledger.find(claim.eventId)).toMatchObject({
      status: 'sending',
      deadLetteredAt: null,
    });
  });

  it('when one failed delivery is recorded as dead-lettered, then only that one is', async () => {
    const first = await claimNew();
    const second = await claimNew();
    await ledger.recordFailure(first, failure({ permanent: true }));
    await ledger.recordFailure(second, failure({ permanent: true }));

    await ledger.markDeadLettered(first.eventId);

    expect((await ledger.find(first.eventId))?.deadLetteredAt).toBeInstanceOf(Date);
    expect((await ledger.find(second.eventId))?.deadLetteredAt).toBeNull();
  });
});
