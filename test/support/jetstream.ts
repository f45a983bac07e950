import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { STREAMS } from '@signup-flow/events';
import { waitUntil } from '@signup-flow/local-stack';

/**
 * Waits until every consumer of USERS has nothing pending or unacknowledged: after that, a second
 * email for the same event would already have been sent.
 */
export async function waitForConsumersSettled(natsUrl: string, timeoutMs = 30_000): Promise<void> {
  const connection = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(connection);
    await waitUntil(
      'the consumers of USERS to settle every message',
      async () => {
        const consumers = await jsm.consumers.list(STREAMS.users).next();
        return (
          consumers.length > 0 &&
          consumers.every((c) => c.num_pending === 0 && c.num_ack_pending === 0)
        );
      },
      timeoutMs,
    );
  } finally {
    await connection.close();
  }
}
