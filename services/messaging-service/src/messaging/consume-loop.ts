import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '@signup-flow/service-runtime';
import { ProcessingStopped, STOP_CAUSES } from '../domain/send-welcome-email.js';
import type { MessagingMetrics } from '../metrics.js';
import type { DependencyGate } from './dependency-gate.js';
import { OUTCOMES } from './settlement.js';
import type { DeliveryHandler } from './user-created-handler.js';

export interface ConsumeLoopOptions {
  /** Looks the durable consumer up (recreating it if it is gone); called again after a failed pull. */
  getConsumer: () => Promise<Consumer>;
  handle: DeliveryHandler;
  /** No message is pulled while any of these is closed. */
  gates: DependencyGate[];
  metrics: MessagingMetrics;
  logger: Logger;
  /** Messages processed at once by this replica. */
  concurrency: number;
  /**
   * While a message is processed for longer than this, `working()` is sent this often so the
   * server does not redeliver it. Keep it under the consumer's shortest ack wait.
   */
  workingEveryMs: number;
  /**
   * A message still in processing after this long is stopped (its send aborted) and no longer
   * kept alive with `working()`, so a hung dependency cannot hold it, or its slot, for ever.
   */
  messageDeadlineMs: number;
  /** How long one pull request waits for messages. @default 10000 */
  pullExpiresMs?: number;
}

interface InFlight {
  message: JsMsg;
  done: Promise<void>;
  stop: AbortController;
  interrupted: boolean;
}

const MAX_PAUSE_MS = 10_000;
/** After the grace period, how long stopped handlers get to release their claims and nak. */
const HANDOFF_MS = 2_000;

/**
 * Pulls only as many messages as there are free slots, so nothing waits in a client-side buffer
 * while its ack timer runs. Every pull is short-lived; a pull broken by a reconnect or by missed
 * heartbeats just ends, and the next one starts after a short pause.
 */
export class ConsumeLoop {
  readonly #options: ConsumeLoopOptions;
  readonly #inFlight = new Set<InFlight>();
  #stopping = false;
  #pull: ConsumerMessages | undefined;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;

  constructor(options: ConsumeLoopOptions) {
    this.#options = options;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /**
   * Stops pulling and lets in-flight messages finish within `graceMs`. Those still running then
   * are stopped: each handler releases its ledger claim, then naks, so another replica sends the
   * email at once. A handler that cannot even do that in time is nak'd here.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#pull?.close().catch(() => undefined);
    await this.#running;
    const pending = this.#inFlight.size;
    if (pending === 0) return;
    this.#options.logger.info({ inFlight: pending, graceMs }, 'waiting for in-flight emails');
    if (await this.settled(graceMs)) return;
    for (const entry of this.#inFlight)
      entry.stop.abort(new ProcessingStopped(STOP_CAUSES.shutdown));
    this.#options.logger.warn(
      { inFlight: this.#inFlight.size },
      'in-flight sends stopped at shutdown; handing them to another replica',
    );
    if (await this.settled(HANDOFF_MS)) return;
    for (const entry of this.#inFlight) {
      entry.interrupted = true;
      entry.message.nak();
      this.#options.metrics.recordSettled({ outcome: OUTCOMES.interrupted }, 0);
    }
    this.#options.logger.warn(
      { naked: this.#inFlight.size },
      "in-flight messages nak'd at shutdown with their claims still held",
    );
  }

  /** Resolves true once no message is in flight, or false after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = Promise.all([...this.#inFlight].map((entry) => entry.done)).then(() => true);
    const result = await Promise.race([done, deadline]);
    clearTimeout(timer);
    return result;
  }

  async #run(): Promise<void> {
    const { logger, concurrency } = this.#options;
    let consumer: Consumer | undefined;
    let failures = 0;
    while (!this.#stopping) {
      await this.#freeSlot();
      await this.#gatesOpen();
      if (this.#stopping) break;
      try {
        consumer ??= await this.#options.getConsumer();
        const pull = await consumer.fetch({
          max_messages: concurrency - this.#inFlight.size,
          expires: this.#options.pullExpiresMs ?? 10_000,
        });
        this.#pull = pull;
        void this.#watchStatus(pull);
        for await (const message of pull) this.#dispatch(message);
        failures = 0;
      } catch (error) {
        if (this.#stopping) break;
        consumer = undefined;
        failures++;
        const pauseMs = Math.min(250 * 2 ** failures, MAX_PAUSE_MS);
        logger.warn({ err: error, pauseMs }, 'pulling messages failed; trying again');
        await this.#pause(pauseMs);
      } finally {
        this.#pull = undefined;
      }
    }
  }

  async #watchStatus(pull: ConsumerMessages): Promise<void> {
    for await (const status of pull.status()) {
      switch (status.type) {
        case 'consumer_not_found':
        case 'consumer_deleted':
        case 'stream_not_found':
          // End this pull: the next looks the consumer up again, which recreates it.
          this.#options.logger.warn({ status }, 'consumer status');
          await pull.close().catch(() => undefined);
          break;
        case 'heartbeats_missed':
        case 'no_responders':
        case 'exceeded_limits':
          this.#options.logger.warn({ status }, 'consumer status');
          break;
        default:
          break;
      }
    }
  }

  #dispatch(message: JsMsg): void {
    const { handle, metrics, logger, workingEveryMs, messageDeadlineMs } = this.#options;
    const entry: InFlight = {
      message,
      done: Promise.resolve(),
      stop: new AbortController(),
      interrupted: false,
    };
    const keepAlive = setInterval(() => message.working(), workingEveryMs);
    const deadline = setTimeout(() => {
      clearInterval(keepAlive);
      entry.stop.abort(new ProcessingStopped(STOP_CAUSES.deadline));
    }, messageDeadlineMs);
    const started = performance.now();
    entry.done = handle(message, entry.stop.signal)
      .then((settlement) => {
        if (!entry.interrupted) {
          metrics.recordSettled(settlement, (performance.now() - started) / 1000);
        }
      })
      .catch((error: unknown) => {
        // The handler settles every path itself; reaching here is a bug, and the ack timer retries.
        logger.error({ err: error, streamSequence: message.info.streamSequence }, 'handler failed');
      })
      .finally(() => {
        clearInterval(keepAlive);
        clearTimeout(deadline);
        this.#inFlight.delete(entry);
        // A dependency went away: stop this pull, so no more messages arrive until it is back.
        if (this.#options.gates.some((gate) => !gate.isUp))
          void this.#pull?.close().catch(() => undefined);
        this.#wake?.();
      });
    this.#inFlight.add(entry);
  }

  async #gatesOpen(): Promise<void> {
    const waiting = new AbortController();
    this.#wake = () => {
      if (this.#stopping) waiting.abort();
    };
    for (const gate of this.#options.gates) {
      while (!gate.isUp && !this.#stopping) await gate.whenUp(waiting.signal);
    }
    this.#wake = undefined;
  }

  #freeSlot(): Promise<void> {
    if (this.#inFlight.size < this.#options.concurrency || this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = () => {
        if (this.#inFlight.size < this.#options.concurrency || this.#stopping) {
          this.#wake = undefined;
          resolve();
        }
      };
    });
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        if (!this.#stopping) return;
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
