import type { Logger } from '@signup-flow/service-runtime';
import { safeOneLine } from '@signup-flow/service-runtime';

export interface DependencyGateOptions {
  /** `smtp` or `postgres`: the metric label, the `/readyz` key and the log field. */
  name: string;
  /** Resolves when the dependency answers again; rejects while it does not. */
  probe: () => Promise<unknown>;
  logger: Logger;
  /** Told of every transition, for the metric. */
  onChange?: (up: boolean) => void;
  /** First pause between probes; it doubles up to `maxProbeDelayMs`. @default 500 */
  minProbeDelayMs?: number;
  /** @default 30000 */
  maxProbeDelayMs?: number;
}

/**
 * The state of one dependency every message needs. A handler that meets an outage reports it;
 * the gate then closes (the consumer stops pulling, so no message spends an attempt on a server
 * that is away), probes with a doubling delay, and opens again once the probe succeeds.
 */
export class DependencyGate {
  readonly name: string;
  readonly #options: DependencyGateOptions;
  #down: { since: number; reason: string; reopened: PromiseWithResolvers<void> } | undefined;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: DependencyGateOptions) {
    this.name = options.name;
    this.#options = options;
  }

  get isUp(): boolean {
    return this.#down === undefined;
  }

  /** Closes the gate (once per outage) and starts probing. */
  reportDown(reason: string): void {
    if (this.#down || this.#closed) return;
    this.#down = { since: Date.now(), reason, reopened: Promise.withResolvers<void>() };
    this.#options.logger.warn(
      { dependency: this.name, reason },
      `${this.name} is unavailable: pausing the consumer until it answers`,
    );
    this.#options.onChange?.(false);
    this.#scheduleProbe(this.#options.minProbeDelayMs ?? 500);
  }

  /** Resolves at once while up; otherwise when the dependency is back or `signal` aborts. */
  whenUp(signal: AbortSignal): Promise<void> {
    if (!this.#down || signal.aborted) return Promise.resolve();
    const reopened = this.#down.reopened.promise;
    return new Promise((resolve) => {
      const onAbort = () => resolve();
      signal.addEventListener('abort', onAbort, { once: true });
      void reopened.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Stops probing (shutdown) and opens the gate, releasing every waiter. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#down?.reopened.resolve();
    this.#down = undefined;
  }

  #scheduleProbe(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#probe(delayMs), delayMs);
  }

  async #probe(lastDelayMs: number): Promise<void> {
    const down = this.#down;
    if (!down || this.#closed) return;
    try {
      await this.#options.probe();
    } catch (error) {
      const nextDelayMs = Math.min(lastDelayMs * 2, this.#options.maxProbeDelayMs ?? 30_000);
      this.#options.logger.debug(
        {
          dependency: this.name,
          err: safeOneLine(error instanceof Error ? error.message : String(error)),
        },
        'dependency still unavailable',
      );
      this.#scheduleProbe(nextDelayMs);
      return;
    }
    this.#down = undefined;
    this.#options.logger.info(
      { dependency: this.name, downForMs: Date.now() - down.since, reason: down.reason },
      `${this.name} answers again: resuming the consumer`,
    );
    this.#options.onChange?.(true);
    down.reopened.resolve();
  }
}
