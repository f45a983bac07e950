import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Claim } from '../data/delivery-ledger.js';
import { holdLease, LEASE_LOSSES, LeaseLostError } from './claim-lease.js';

const CLAIM: Claim = { eventId: 'e', token: 't', attempts: 1, failedAttempts: 0 };
const LEASE_MS = 3_000;

describe('holdLease', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('when renewals succeed, then the lease is renewed every third of it and the send is never stopped', async () => {
    const renew = vi.fn(async () => true);
    const lease = holdLease({ renew }, CLAIM, LEASE_MS);

    await vi.advanceTimersByTimeAsync(5 * LEASE_MS);

    expect(renew).toHaveBeenCalledTimes(15);
    expect(renew).toHaveBeenCalledWith(CLAIM, LEASE_MS);
    expect(lease.signal.aborted).toBe(false);
    lease.release();
  });

  it('when no renewal reaches the ledger, then the send is stopped before the lease runs out, not after', async () => {
    const started = Date.now();
    const lease = holdLease(
      { renew: async () => Promise.reject(new Error('down')) },
      CLAIM,
      LEASE_MS,
    );
    let stoppedAt: number | undefined;
    lease.signal.addEventListener('abort', () => {
      stoppedAt = Date.now();
    });

    await vi.advanceTimersByTimeAsync(LEASE_MS * 0.8);
    expect(lease.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(LEASE_MS * 0.2);

    expect(lease.signal.reason).toEqual(new LeaseLostError(LEASE_LOSSES.unconfirmed));
    expect((stoppedAt ?? Number.POSITIVE_INFINITY) - started).toBeLessThan(LEASE_MS);
    lease.release();
  });

  it('when a renewal finds the claim taken over, then the send is stopped at once', async () => {
    const lease = holdLease({ renew: async () => false }, CLAIM, LEASE_MS);

    await vi.advanceTimersByTimeAsync(LEASE_MS / 3);

    expect((lease.signal.reason as LeaseLostError).loss).toBe(LEASE_LOSSES.takenOver);
    lease.release();
  });

  it('when released, then it renews no more', async () => {
    const renew = vi.fn(async () => true);
    holdLease({ renew }, CLAIM, LEASE_MS).release();

    await vi.advanceTimersByTimeAsync(5 * LEASE_MS);

    expect(renew).not.toHaveBeenCalled();
  });
});
