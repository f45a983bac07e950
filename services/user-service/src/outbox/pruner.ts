import type { Logger } from '@signup-flow/service-runtime';
import type { Knex } from 'knex';
import { prunePublished } from '../data/outbox-repository.js';

const PRUNE_INTERVAL_MS = 60_000;
const PRUNE_BATCH = 1000;

export interface OutboxPrunerOptions {
  db: Knex;
  /** Published events are deleted after this long; unpublished ones never are. */
  retentionSeconds: number;
  logger: Logger;
  /** @default 60000 */
  intervalMs?: number;
}

/** Deletes published outbox events past their retention, every minute, in bounded batches. */
export class OutboxPruner {
  readonly #options: OutboxPrunerOptions;
  #timer: NodeJS.Timeout | undefined;
  #pruning: Promise<void> = Promise.resolve();

  constructor(options: OutboxPrunerOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer) return;
    const prune = () => {
      this.#pruning = this.#prune();
    };
    prune();
    this.#timer = setInterval(prune, this.#options.intervalMs ?? PRUNE_INTERVAL_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pruning;
  }

  async #prune(): Promise<void> {
    const { db, retentionSeconds, logger } = this.#options;
    try {
      const pruned = await prunePublished(db, retentionSeconds, PRUNE_BATCH);
      if (pruned > 0) logger.debug({ pruned }, 'pruned published outbox events');
    } catch (error) {
      // The next round tries again; the rows only wait longer.
      logger.warn({ err: error }, 'cannot prune the outbox yet');
    }
  }
}
