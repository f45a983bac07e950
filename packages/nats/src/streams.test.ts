import {
  AckPolicy,
  type ConsumerConfig,
  jetstream,
  jetstreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '@signup-flow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isJetStreamApiError,
  isNoStreamForSubject,
  isNotFound,
  JETSTREAM_API_CODES,
} from './jetstream-errors.js';
import { ensureConsumer, ensureStream } from './streams.js';

describe('JetStream provisioning and its typed errors, against a real nats-server', () => {
  let connection: Awaited<ReturnType<typeof connect>>;
  beforeAll(async () => {
    connection = await connect({ servers: (await startNatsServer()).url });
  });
  afterAll(() => connection?.close());

  it('when replicas provision the same stream and consumer at once, then every one succeeds and the last config holds', async () => {
    const jsm = await jetstreamManager(connection);
    const stream = (description: string) =>
      ({ name: 'RACE', subjects: ['race.>'], description }) as StreamConfig;
    await Promise.all(
      Array.from({ length: 5 }, (_, replica) => ensureStream(jsm, stream(`replica ${replica}`))),
    );
    const consumer = (maxAckPending: number) =>
      ({
        durable_name: 'racer',
        ack_policy: AckPolicy.Explicit,
        max_ack_pending: maxAckPending,
      }) as ConsumerConfig;
    await Promise.all(
      Array.from({ length: 5 }, (_, replica) =>
        ensureConsumer(jsm, 'RACE', consumer(10 + replica)),
      ),
    );
    expect((await jsm.streams.info('RACE')).config.subjects).toEqual(['race.>']);
    expect((await ensureConsumer(jsm, 'RACE', consumer(99))).config.max_ack_pending).toBe(99);
    expect((await ensureStream(jsm, stream('updated'))).config.description).toBe('updated');
  });

  it('when JetStream answers, then its errors are told apart by their codes', async () => {
    const jsm = await jetstreamManager(connection);
    const missingStream = await jsm.streams.info('NONE').catch((error: unknown) => error);
    const missingConsumer = await jsm.consumers
      .info('RACE', 'none')
      .catch((error: unknown) => error);
    await jsm.streams.add({ name: 'TAKEN', subjects: ['taken.>'] });
    const inUse = await jsm.streams
      .add({ name: 'TAKEN', subjects: ['taken.>', 'other.>'] })
      .catch((error: unknown) => error);

    expect(isJetStreamApiError(missingStream, JETSTREAM_API_CODES.StreamNotFound)).toBe(true);
    expect(isNotFound(missingStream)).toBe(true);
    expect(isNotFound(missingConsumer)).toBe(true);
    expect(isJetStreamApiError(missingConsumer, JETSTREAM_API_CODES.StreamNotFound)).toBe(false);
    expect(isJetStreamApiError(inUse, JETSTREAM_API_CODES.StreamNameInUse)).toBe(true);
    expect(isNotFound(inUse)).toBe(false);
    expect(isNotFound(new Error('stream not found'))).toBe(false);
  });

  it('when a publish finds no stream for its subject, then that is recognised, and nothing else is', async () => {
    const js = jetstream(connection, { timeout: 2_000 });
    const noStream = await js.publish('nostream.here', 'x').catch((error: unknown) => error);

    expect(isNoStreamForSubject(noStream)).toBe(true);
    expect(isNoStreamForSubject(new Error('no responders'))).toBe(false);
  });
});
