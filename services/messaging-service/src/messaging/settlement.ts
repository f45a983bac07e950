/** How a message was settled with JetStream; also the `outcome` label of the consumed-messages metric. */
export const OUTCOMES = {
  /** Email accepted by the SMTP server; acked. */
  sent: 'sent',
  /** The ledger says it was sent before (redelivery or re-publish); acked without sending. */
  alreadySent: 'already_sent',
  /** Transient failure; nak'd with the backoff delay. */
  retried: 'retried',
  /** Another consumer holds the claim; nak'd until the claim runs out. */
  deferred: 'deferred',
  /** Published to the DLQ, then terminated. */
  deadLettered: 'dead_lettered',
  /** A dependency every message needs (SMTP, the ledger, the DLQ) is away; nak'd, nothing spent. */
  waitingForDependency: 'waiting_for_dependency',
  /** Shutdown could not wait for it; nak'd for another replica. */
  interrupted: 'interrupted',
} as const;

export type Outcome = (typeof OUTCOMES)[keyof typeof OUTCOMES];

export type Settlement =
  | { outcome: typeof OUTCOMES.sent }
  | { outcome: typeof OUTCOMES.alreadySent }
  | { outcome: typeof OUTCOMES.retried; delayMs: number; reason: string }
  | { outcome: typeof OUTCOMES.deferred; delayMs: number }
  | { outcome: typeof OUTCOMES.deadLettered; reason: string }
  | { outcome: typeof OUTCOMES.waitingForDependency; dependency: string; delayMs: number }
  | { outcome: typeof OUTCOMES.interrupted };
