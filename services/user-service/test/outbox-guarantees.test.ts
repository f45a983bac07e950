/**
 * The outbox's guarantees, each checked where JetStream's de-duplication cannot hide a breach:
 * rows are marked published only after their PubAck, replicas never publish a row twice, unpublished
 * rows are never pruned, and NOTIFY (not the poll) wakes the relay.
 */
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { STREAMS } from '@signup-flow/events';
import { waitUntil } from '@signup-flow/local-stack';
import { createUsersStream, onTestFileEnd, TcpProxy } from '@signup-flow/testing';
import type { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { prunePublished, toClaimedEvent } from '../src/data/outbox-repository.js';
import { OutboxTestbed, readUsersStream } from './fixtures.js';

async function counterValue(counter: Counter): Promise<number> {
  return (await counter.get()).values.reduce((sum, sample) => sum + sample.value, 0);
}

describe('outbox guarantees', () => {
  const testbed = OutboxTestbed.use();
  const signUp = (count: number) => testbed.signUpMany(count, 'guarantee');

  async function rows(): Promise<Array<{ event_id: string; published_at: Date | null }>> {
    return testbed.database.db('outbox').select('event_id', 'published_at');
  }

  function everyRowPublished(what = 'every row published', timeoutMs?: number): Promise<void> {
    return waitUntil(
      what,
      async () => (await rows()).every((row) => row.published_at !== null),
      timeoutMs,
    );
  }

  async function streamEventIds(): Promise<Set<string>> {
    return new Set(
      (await readUsersStream(testbed.nats.url)).map(
        (message) => (message.body as { id: string }).id,
      ),
    );
  }

  async function withUsersStream<T>(change: (config: object) => object, act: () => Promise<T>) {
    const connection = await connect({ servers: testbed.nats.url });
    const manager = await jetstreamManager(connection);
    const { config } = await manager.streams.info(STREAMS.users);
    await manager.streams.update(STREAMS.users, change(config));
    try {
      return await act();
    } finally {
      await manager.streams.update(STREAMS.users, config);
      await connection.close();
    }
  }

  it('when the USERS stream is gone, then the relay says so (the service then reprovisions it) and keeps the event until it is back', async () => {
    let missing = 0;
    await testbed.startRelay({ onStreamMissing: () => missing++ });
    const connection = await connect({ servers: testbed.nats.url });
    try {
      await (await jetstreamManager(connection)).streams.delete(STREAMS.users);
      await signUp(1);
      await waitUntil('the relay to report the missing stream', async () => missing > 0);
      expect((await rows()).every((row) => row.published_at === null)).toBe(true);
    } finally {
      await connection.close();
      await createUsersStream(testbed.nats.url);
    }
    await everyRowPublished('the waiting row published once USERS is back');
  });

  it('when the stream refuses publishes while the relay is connected, then no row is marked published, and each is published once it accepts', async () => {
    const relay = await testbed.startRelay();
    await signUp(1);
    await everyRowPublished('the first row published');
    const stored = (await readUsersStream(testbed.nats.url)).length;

    await withUsersStream(
      // Full, and refusing new messages: every publish gets an error instead of a PubAck.
      (config) => ({ ...config, max_msgs: stored, discard: 'new' }),
      async () => {
        await signUp(5);
        // Every refused row is retried, and each attempt is counted on it with why.
        await waitUntil('a failed attempt on each of the five rows', async () => {
          const failed = await testbed.database.db('outbox').whereNull('published_at');
          return failed.length === 5 && failed.every((row) => row.attempts > 0);
        });
        // The counter moves once the attempt's transaction has committed, after the rows show it.
        await expect
          .poll(() => counterValue(relay.metrics.publishFailures))
          .toBeGreaterThanOrEqual(5);
        expect((await rows()).filter((row) => row.published_at !== null)).toHaveLength(1);
        for (const row of await testbed.database.db('outbox').whereNull('published_at')) {
          expect(row.last_error).toMatch(/maximum messages/i);
          expect(row.last_error.length).toBeLessThanOrEqual(1000);
        }
      },
    );

    await everyRowPublished('every row published');
    const ids = await streamEventIds();
    expect((await rows()).every((row) => ids.has(row.event_id))).toBe(true);
  });

  it('when the connection to NATS goes silent mid-batch (no PubAck comes), then those rows stay unpublished and are published once it answers', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: testbed.nats.port });
    onTestFileEnd(() => proxy.stop());
    const relay = await testbed.startRelay(
      { publishTimeoutMs: 500 },
      `nats://127.0.0.1:${proxy.port}`,
    );
    await signUp(3);
    await everyRowPublished('the first rows published');

    proxy.freeze();
    await signUp(5);
    await waitUntil('PubAck timeouts', async () => {
      return (await counterValue(relay.metrics.publishFailures)) >= 5;
    });
    const marked = (await rows()).filter((row) => row.published_at !== null);
    const ids = await streamEventIds();

    expect(marked).toHaveLength(3);
    expect(marked.every((row) => ids.has(row.event_id))).toBe(true);
    await proxy.restore();
    await everyRowPublished('every row published', 30_000);
  });

  it('when nats-server stops in the middle of a busy relay, then every row marked published is in the stream', async () => {
    await testbed.startRelay();
    const signing = signUp(100);
    await waitUntil('some rows published', async () =>
      (await rows()).some((row) => row.published_at !== null),
    );
    await testbed.nats.kill();
    await signing;
    const marked = (await rows()).filter((row) => row.published_at !== null);

    await testbed.nats.start();
    const ids = await streamEventIds();
    expect(marked.length).toBeGreaterThan(0);
    expect(marked.filter((row) => !ids.has(row.event_id))).toEqual([]);
    await everyRowPublished('every row published after the restart', 60_000);
  });

  it('when two relays share one database, then between them they publish each row exactly once (counted by the relays, not by the stream)', async () => {
    const first = await testbed.startRelay();
    const second = await testbed.startRelay();

    await signUp(60);
    await everyRowPublished('every row published');

    const published =
      (await counterValue(first.metrics.published)) +
      (await counterValue(second.metrics.published));
    expect(published).toBe(60);
    expect(await counterValue(first.metrics.published)).toBeGreaterThan(0);
    expect(await counterValue(second.metrics.published)).toBeGreaterThan(0);
  });

  it('when rows are older than the retention, then only published ones are pruned, never one still waiting', async () => {
    const [waiting, published] = await signUp(2);
    const old = testbed.database.db.raw("now() - interval '2 hours'");
    await testbed.database.db('outbox').update({ created_at: old });
    await testbed.database
      .db('outbox')
      .where({ aggregate_id: published })
      .update({ published_at: old });

    const pruned = await prunePublished(testbed.database.db, 3600, 100);

    expect(pruned).toBe(1);
    const left = await testbed.database.db('outbox').select('aggregate_id');
    expect(left.map((row) => row.aggregate_id)).toEqual([waiting]);
  });

  it('when the fallback poll is far away, then a committed signup is published at once: NOTIFY woke the relay', async () => {
    await testbed.startRelay({ pollIntervalMs: 10 * 60_000 });
    // The first signup may be caught by the wake after LISTEN; the second only by its NOTIFY.
    await signUp(1);
    await everyRowPublished('the first row published');

    await signUp(1);

    await everyRowPublished('the second row published long before the poll', 20_000);
  });
});

/** `signupflow_outbox_published_events_total` of a service's /metrics, by mode. */
async function publishedByMode(baseUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, mode, value] of text.matchAll(
    /^signupflow_outbox_published_events_total\{mode="(\w+)"\} (\d+)$/gm,
  )) {
    counts[mode as string] = Number(value);
  }
  return counts;
}

describe('outbox hand-off: the service that writes an event publishes it at once', () => {
  const testbed = OutboxTestbed.use();
  const signUp = (count: number) => testbed.signUpMany(count, 'hand-off');
  const outbox = () => testbed.database.db('outbox').orderBy('id');

  /** Each of this test's events is in the stream exactly once (other tests' are there too). */
  async function expectEachStreamedOnce(rows: Array<{ event_id: string }>): Promise<void> {
    const ours = new Set(rows.map((row) => row.event_id));
    const streamed = (await readUsersStream(testbed.nats.url))
      .map((message) => (message.body as { id: string }).id)
      .filter((id) => ours.has(id));
    expect(streamed.sort()).toEqual([...ours].sort());
  }

  it('when it is connected to NATS, then it publishes each new event itself: no relay claims one, each row records one attempt, and the stream holds each once', async () => {
    await testbed.connectApi();
    // Polls far more often than a lease lasts: it would claim any row left unleased.
    const bystander = await testbed.startRelay({ pollIntervalMs: 20 });

    const ids = await signUp(12);

    await waitUntil('every row published', async () =>
      (await outbox()).every((row) => row.published_at !== null),
    );
    const rows = await outbox();
    expect(rows.map((row) => row.aggregate_id).sort()).toEqual([...ids].sort());
    for (const row of rows) {
      expect(row).toMatchObject({ attempts: 1, claimed_until: null, last_error: null });
      expect(row.published_at.getTime()).toBeGreaterThanOrEqual(row.created_at.getTime());
    }
    expect(await publishedByMode(testbed.api.baseUrl)).toEqual({ hand_off: 12 });
    expect(await counterValue(bystander.metrics.published)).toBe(0);
    await expectEachStreamedOnce(rows);
  });

  it('when the stream refuses its publishes, then each refused row loses its lease with the error recorded, and is published by a relay once the stream accepts', async () => {
    await testbed.connectApi();
    await signUp(1);
    await waitUntil('the first row published', async () =>
      (await outbox()).every((row) => row.published_at !== null),
    );
    const connection = await connect({ servers: testbed.nats.url });
    onTestFileEnd(() => connection.close());
    const manager = await jetstreamManager(connection);
    const { config, state } = await manager.streams.info(STREAMS.users);
    // Full, and refusing new messages: every publish gets an error instead of a PubAck.
    await manager.streams.update(STREAMS.users, {
      ...config,
      max_msgs: state.messages,
      discard: 'new',
    });

    await signUp(3);
    await waitUntil('a failed attempt on each of the three new rows', async () => {
      const waiting = await testbed.database.db('outbox').whereNull('published_at');
      return waiting.length === 3 && waiting.every((row) => row.attempts > 0);
    });
    for (const row of await testbed.database.db('outbox').whereNull('published_at')) {
      expect(row.last_error).toMatch(/maximum messages/i);
    }

    await manager.streams.update(STREAMS.users, config);
    await waitUntil('every row published', async () =>
      (await outbox()).every((row) => row.published_at !== null),
    );
    await expectEachStreamedOnce(await outbox());
    expect((await publishedByMode(testbed.api.baseUrl)).relay).toBe(3);
  });

  it('when an event was written with a lease and its writer died, then no relay claims it before the lease ends, and one publishes it after', async () => {
    const relay = await testbed.startRelay({ pollIntervalMs: 50 });
    const [userId] = await signUp(1);
    await waitUntil('the unleased row published', async () =>
      (await outbox()).every((row) => row.published_at !== null),
    );
    // As a writer that died right after its commit leaves it: leased, never published.
    const [event] = await outbox();
    await testbed.database.db('outbox').insert({
      event_id: randomUUID(),
      aggregate_id: userId,
      subject: event.subject,
      payload: event.payload,
      claimed_until: testbed.database.db.raw("now() + interval '2 seconds'"),
    });

    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await testbed.database.db('outbox').whereNull('published_at')).toHaveLength(1);
    expect(await counterValue(relay.metrics.published)).toBe(1);

    await waitUntil('the leased row published after its lease', async () =>
      (await outbox()).every((row) => row.published_at !== null),
    );
    expect(await counterValue(relay.metrics.published)).toBe(2);
  });

  it('when a hand-off reaches a relay not yet connected, then the writer is not failed: the row loses its lease with why, for a relay to publish', async () => {
    const unconnected = await testbed.startRelay({}, 'nats://127.0.0.1:1');
    await signUp(1);
    // As the writer leaves a handed-off row: leased, just committed.
    await testbed.database.db('outbox').update({
      claimed_until: testbed.database.db.raw("now() + interval '1 hour'"),
    });
    const [row] = await outbox();

    expect(() => unconnected.relay.publish(toClaimedEvent(row))).not.toThrow();

    await waitUntil('the failed hand-off recorded on its row', async () => {
      const [after] = await outbox();
      return after.attempts === 1 && after.claimed_until === null;
    });
    const [after] = await outbox();
    expect(after.published_at).toBeNull();
    expect(after.last_error).toMatch(/before it connected/);
  });

  it('when it stops with publishes in flight, then it finishes them first: every signup it answered has its event published, once', async () => {
    await testbed.connectApi();
    await signUp(30);
    await testbed.api.stop();

    const rows = await outbox();
    expect(rows).toHaveLength(30);
    expect(rows.filter((row) => row.published_at === null)).toEqual([]);
    await expectEachStreamedOnce(rows);
  });
});
