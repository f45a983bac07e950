import { type JetStreamManager, jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { STREAMS } from '@signup-flow/events';
import { waitUntil } from '@signup-flow/local-stack';
import { ensureStream, isNotFound } from '@signup-flow/nats';
import { usersStreamConfig } from '@signup-flow/user-service/jetstream';

/** Runs `work` with a JetStream manager: the one given, or one on a connection to that URL. */
async function withManager<T>(
  target: string | JetStreamManager,
  work: (jsm: JetStreamManager) => Promise<T>,
): Promise<T> {
  if (typeof target !== 'string') return work(target);
  const connection = await connect({ servers: target });
  try {
    return await work(await jetstreamManager(connection));
  } finally {
    await connection.close();
  }
}

/**
 * The USERS stream as the user-service creates it (its own definition), with a duplicate window
 * a test can choose: short, to see a republish after it accepted.
 */
export function createUsersStream(
  target: string | JetStreamManager,
  duplicateWindowMs = 3_600_000,
): Promise<void> {
  return withManager(target, async (jsm) => {
    await ensureStream(
      jsm,
      usersStreamConfig({ replicas: 1, maxAgeMs: 24 * 3_600_000, duplicateWindowMs }),
    );
  });
}

/** Every message the stream holds now, oldest first; none when the stream does not exist. */
export function readStream(
  target: string | JetStreamManager,
  stream: string,
): Promise<StoredMsg[]> {
  return withManager(target, async (jsm) => {
    const info = await jsm.streams.info(stream).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    // An empty stream reports first_seq 0, which the server refuses to look up.
    if (!info || info.state.messages === 0) return [];
    const messages: StoredMsg[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      // null for a sequence whose message was deleted.
      const message = await jsm.streams.getMessage(stream, { seq });
      if (message) messages.push(message);
    }
    return messages;
  });
}

export interface SettledOptions {
  /** Only this consumer of USERS; every consumer of USERS when unset (and at least one). */
  consumer?: string;
  timeoutMs?: number;
}

/**
 * Waits until the consumers of USERS have nothing pending and nothing unacknowledged: after that,
 * a second email for the same event would already have been sent.
 */
export function waitForConsumersSettled(
  target: string | JetStreamManager,
  options: SettledOptions = {},
): Promise<void> {
  return withManager(target, (jsm) =>
    waitUntil(
      `the consumer${options.consumer ? ` ${options.consumer}` : 's'} of USERS to settle every message`,
      async () => {
        const consumers = options.consumer
          ? [await jsm.consumers.info(STREAMS.users, options.consumer)]
          : await jsm.consumers.list(STREAMS.users).next();
        return (
          consumers.length > 0 &&
          consumers.every((c) => c.num_pending === 0 && c.num_ack_pending === 0)
        );
      },
      options.timeoutMs ?? 30_000,
    ),
  );
}
