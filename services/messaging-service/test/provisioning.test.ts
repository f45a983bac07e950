import { readFile } from 'node:fs/promises';
import { STREAMS } from '@signup-flow/events';
import { waitUntil } from '@signup-flow/local-stack';
import { beforeAll, describe, expect, it } from 'vitest';
import { WELCOME_EMAIL_CONSUMER } from '../src/messaging/jetstream.js';
import { Stack } from './support.js';

/** What the service's readiness says of its consumer: `up` once it pulls. */
async function consumerState(port: number): Promise<string | undefined> {
  const readiness = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as {
    dependencies: Record<string, string>;
  };
  return readiness.dependencies.consumer;
}

const exists = (lookup: Promise<unknown>) =>
  lookup.then(
    () => true,
    () => false,
  );

describe('JetStream provisioning', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ usersStream: false });
  });

  it('when USERS does not exist yet, then the service waits for it, saying so, and never creates it', async () => {
    const service = await stack.startProcess({}, 'listening');
    await waitUntil('the log line about waiting for USERS', async () =>
      (await readFile(service.logFile, 'utf8')).includes('waiting for the USERS stream'),
    );

    expect(await exists(stack.jsm.streams.info(STREAMS.users))).toBe(false);
    expect(await consumerState(service.port)).toBe('down');

    // The user-service comes up and creates USERS: the messaging-service carries on by itself.
    await stack.createUsersStream();
    await waitUntil('the consumer', async () => (await consumerState(service.port)) === 'up');
    await stack.publishAndWaitUntilSent();

    expect(await exists(stack.jsm.streams.info(STREAMS.deadLetters))).toBe(true);
    await service.process.stop();
  });

  it('when NATS_PROVISION=false and the consumer is missing, then the service waits and creates nothing', async () => {
    await stack.jsm.consumers.delete(STREAMS.users, WELCOME_EMAIL_CONSUMER);
    await stack.jsm.streams.delete(STREAMS.deadLetters);
    const service = await stack.startProcess({ NATS_PROVISION: 'false' }, 'listening');
    await waitUntil('the log line about waiting for the consumer', async () =>
      (await readFile(service.logFile, 'utf8')).includes(
        `waiting for the consumer ${WELCOME_EMAIL_CONSUMER}`,
      ),
    );

    expect(await exists(stack.jsm.consumers.info(STREAMS.users, WELCOME_EMAIL_CONSUMER))).toBe(
      false,
    );
    expect(await exists(stack.jsm.streams.info(STREAMS.deadLetters))).toBe(false);
    expect(await consumerState(service.port)).toBe('down');

    // Someone provisions (here: a replica with provisioning on); the waiting one starts consuming.
    const provisioner = await stack.startProcess();
    await provisioner.process.stop();
    await waitUntil('the consumer', async () => (await consumerState(service.port)) === 'up');
    await stack.publishAndWaitUntilSent();
    await service.process.stop();
  });
});
