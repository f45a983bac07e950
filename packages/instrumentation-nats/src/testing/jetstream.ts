import {
  AckPolicy,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '@signup-flow/testing';
import { afterAll } from 'vitest';

const STREAM = 'TRACING';

/**
 * A real nats-server of the test file's own with one stream, `TRACING` on `tracing.>`. Each
 * {@link TestJetStream.topic} is a fresh subject with its own durable consumer, so tests do not
 * see each other's messages.
 */
export async function startTestJetStream() {
  const server = await startNatsServer();
  const connection: NatsConnection = await connect({ servers: server.url });
  afterAll(() => connection.close());
  const manager = await jetstreamManager(connection);
  await manager.streams.add({ name: STREAM, subjects: ['tracing.>'] });
  const js: JetStreamClient = jetstream(connection);
  let topics = 0;

  return {
    js,
    stream: STREAM,
    /** A new subject and the durable consumer that reads it. */
    async topic() {
      topics += 1;
      const subject = `tracing.topic${topics}`;
      const durable = `consumer${topics}`;
      await manager.consumers.add(STREAM, {
        durable_name: durable,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
      });
      const consumer = await js.consumers.get(STREAM, durable);
      return {
        subject,
        durable,
        /** The next message for this consumer; fails rather than waiting forever. */
        async next(): Promise<JsMsg> {
          const message = await consumer.next({ expires: 10_000 });
          if (!message) throw new Error(`no message on ${subject}`);
          return message;
        },
      };
    },
  };
}
