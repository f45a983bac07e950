import type { Claim, DeliveryLedger } from '../data/delivery-ledger.js';

/** Why a held lease ended the send it covers. */
export const LEASE_LOSSES = {
  /** Another holder took the claim over: this one must not send. */
  takenOver: 'lease-taken-over',
  /** No renewal reached the ledger in time: the lease may run out while the send goes on. */
  unconfirmed: 'lease-unconfirmed',
} as const;

export type LeaseLoss = (typeof LEASE_LOSSES)[keyof typeof LEASE_LOSSES];

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  readonly loss: LeaseLoss;

  constructor(loss: LeaseLoss) {
    super(`the delivery claim was lost (${loss})`);
    this.loss = loss;
  }
}

export interface HeldLease {
  /** Aborts with a {@link LeaseLostError} before the lease can run out under the send. */
  signal: AbortSignal;
  release(): void;
}

/**
 * Keeps a claim's lease alive while its send runs: renews it every third of its length, and
 * aborts `signal` when the claim was taken over, or when no renewal succeeded and the lease would
 * run out within a sixth of its length. So every send ends before another holder may start.
 */
export function holdLease(
  ledger: Pick<DeliveryLedger, 'renew'>,
  claim: Claim,
  leaseMs: number,
): HeldLease {
  const controller = new AbortController();
  let confirmedUntil = Date.now() + leaseMs;
  const lose = (loss: LeaseLoss) => {
    if (!controller.signal.aborted) controller.abort(new LeaseLostError(loss));
  };
  const renewal = setInterval(() => {
    const startedAt = Date.now();
    ledger.renew(claim, leaseMs).then(
      (held) => {
        if (held) confirmedUntil = startedAt + leaseMs;
        else lose(LEASE_LOSSES.takenOver);
      },
      () => undefined, // the watchdog below decides when a failing ledger ends the send
    );
  }, leaseMs / 3);
  const watchdog = setInterval(
    () => {
      if (Date.now() >= confirmedUntil - leaseMs / 6) lose(LEASE_LOSSES.unconfirmed);
    },
    Math.max(50, leaseMs / 12),
  );
  return {
    signal: controller.signal,
    release() {
      clearInterval(renewal);
      clearInterval(watchdog);
    },
  };
}
