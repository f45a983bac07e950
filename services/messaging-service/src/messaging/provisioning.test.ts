import { Writable } from 'node:stream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { errors } from '@nats-io/nats-core';
import { STREAMS } from '@signup-flow/events';
import { createLogger } from '@signup-flow/service-runtime';
import { describe, expect, it } from 'vitest';
import { WELCOME_EMAIL_CONSUMER } from './jetstream.js';
import { provisionMessaging } from './provisioning.js';

/**
 * A JetStream manager whose API answers each call with the next of `failures` for that method
 * (then succeeds): what a cluster in a leader election, or a lost node, looks like to a client.
 */
function flakyManager(failures: Partial<Record<string, Error[]>>) {
  const calls: string[] = [];
  const answer = async (method: string, value: unknown) => {
    calls.push(method);
    const failure = failures[method]?.shift();
    if (failure) throw failure;
    return value;
  };
  const manager = {
    streams: {
      info: (name: string) => answer(`streams.info ${name}`, { config: { name } }),
      update: (name: string) => answer(`streams.update ${name}`, { config: { name } }),
    },
    consumers: {
      info: (stream: string, name: string) => answer(`consumers.info ${stream} ${name}`, { name }),
      update: (stream: string, name: string) =>
        answer(`consumers.update ${stream} ${name}`, { name }),
    },
  } as unknown as JetStreamManager;
  return { manager, calls };
}

function provision(manager: JetStreamManager) {
  const lines: Array<{ msg: string; reason?: string }> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const done = provisionMessaging({
    manager,
    logger: createLogger({ service: 'test', level: 'info', destination }),
    retryEveryMs: 1,
    consumer: { ackWaitMs: 30_000, maxAckPending: 32 },
    dlq: { replicas: 1, maxAgeMs: 60_000 },
  });
  return { done, lines };
}

describe('provisioning the welcome-email consumer', () => {
  it('when JetStream times out on each step once (a leader election), then it tries again and provisions everything', async () => {
    const { manager, calls } = flakyManager({
      [`streams.info ${STREAMS.users}`]: [new errors.TimeoutError()],
      [`streams.info ${STREAMS.deadLetters}`]: [new errors.TimeoutError()],
      [`consumers.info ${STREAMS.users} ${WELCOME_EMAIL_CONSUMER}`]: [new errors.TimeoutError()],
    });
    const { done, lines } = provision(manager);

    await expect(done).resolves.toBeUndefined();
    expect(calls).toContain(`consumers.update ${STREAMS.users} ${WELCOME_EMAIL_CONSUMER}`);
    expect(lines.filter((line) => /JetStream did not answer/.test(line.msg))).toHaveLength(3);
    expect(lines.at(-1)?.msg).toBe('JetStream consumer and DLQ stream ready');
  });

  it('when JetStream refuses (not a timeout), then provisioning fails with that error', async () => {
    const refusal = new Error('permissions violation for publish to "$JS.API.STREAM.INFO.USERS"');
    const { manager } = flakyManager({ [`streams.info ${STREAMS.users}`]: [refusal] });

    await expect(provision(manager).done).rejects.toBe(refusal);
  });
});
