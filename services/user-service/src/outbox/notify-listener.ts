import type { Logger } from '@signup-flow/service-runtime';
import pg from 'pg';

/** The channel the outbox insert's trigger notifies (migration 001). */
export const OUTBOX_CHANNEL = 'outbox_events';

export interface OutboxNotifyListenerOptions {
  /** Its own connection: a LISTEN must stay outside the pool. */
  databaseUrl: string;
  logger: Logger;
  /** Called on every committed outbox event, and once after each (re)connect. */
  onNotify: () => void;
}

/**
 * Holds a LISTEN connection that calls `onNotify` on every committed outbox event, so the relay
 * publishes at once rather than at its next poll; reconnects when the connection is lost.
 */
export class OutboxNotifyListener {
  readonly #options: OutboxNotifyListenerOptions;
  #stopping = false;
  #client: pg.Client | undefined;
  #running: Promise<void> | undefined;

  constructor(options: OutboxNotifyListenerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#running ??= this.#listen();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#client?.end().catch(() => undefined);
    await this.#running;
  }

  async #listen(): Promise<void> {
    const { logger, onNotify } = this.#options;
    while (!this.#stopping) {
      const client = new pg.Client({
        connectionString: this.#options.databaseUrl,
        application_name: 'user-service outbox listener',
      });
      this.#client = client;
      try {
        const ended = new Promise<void>((resolve) => {
          client.once('end', resolve);
          client.once('error', (error) => {
            logger.warn({ err: error }, 'outbox listener lost its connection');
            resolve();
          });
        });
        client.on('notification', onNotify);
        await client.connect();
        await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
        // Anything committed before LISTEN took effect is picked up by this call.
        onNotify();
        await ended;
      } catch (error) {
        if (!this.#stopping) logger.warn({ err: error }, 'outbox listener cannot connect');
      } finally {
        await client.end().catch(() => undefined);
      }
      if (!this.#stopping) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
