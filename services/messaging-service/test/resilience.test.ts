import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { encodeEvent, STREAMS } from '@signup-flow/events';
import { freePort, ManagedProcess, NatsServer, waitUntil } from '@signup-flow/local-stack';
import { createUsersStream, onTestFileEnd, startNatsServer } from '@signup-flow/testing';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { welcomeMessageId } from '../src/domain/send-welcome-email.js';
import { WELCOME_EMAIL_CONSUMER } from '../src/messaging/jetstream.js';
import { newUserCreatedEvent, publishUserCreated, Stack } from './support.js';

/** The service's `/readyz` says its consumer is bound. */
async function consumerIsUp(port: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body = (await response.json()) as { dependencies?: { consumer?: string } };
  return body.dependencies?.consumer === 'up';
}

describe('resilience', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start();
  });

  it('when SIGTERM arrives during a slow send, then the send finishes, the message is acked and the process exits 0', async () => {
    const service = await stack.startProcess();
    const event = newUserCreatedEvent();
    const messageId = welcomeMessageId(event.id);
    let release: (decision: 'accept' | 'reject') => void = () => undefined;
    stack.sink.behaviour = (attempt) =>
      attempt.messageId === messageId
        ? { kind: 'stall', release: new Promise((resolve) => (release = resolve)) }
        : { kind: 'accept' };
    await stack.publish(event);
    await waitUntil('the send to start', async () =>
      stack.sink.attempts.some((attempt) => attempt.messageId === messageId),
    );

    const stopping = service.process.stop();
    await waitUntil('the service to report draining', async () => {
      const response = await fetch(`http://127.0.0.1:${service.port}/readyz`);
      return ((await response.json()) as { status: string }).status === 'draining';
    });
    release('accept');
    await stopping;

    expect(await service.process.exited()).toBe(0);
    expect(stack.sink.withMessageId(messageId)).toHaveLength(1);
    expect(await stack.delivery(event.id)).toMatchObject({ status: 'sent', attempts: 1 });
    // Unacked, it would fall back to pending once its ack wait ran out, with nobody to take it.
    await stack.waitUntilConsumerIdle();
    stack.sink.behaviour = () => ({ kind: 'accept' });
  });

  it("when a send outlasts the shutdown bound, then the message is nak'd and the next instance delivers it once", async () => {
    const first = await stack.startInProcess();
    const event = newUserCreatedEvent();
    const messageId = welcomeMessageId(event.id);
    const attemptsFor = () => stack.sink.attemptsWithMessageId(messageId);
    const release = stack.sink.stallFirstAttempt(messageId);
    await stack.publish(event);
    await waitUntil('the send to start', async () => attemptsFor().length > 0);

    await first.stop(300);
    const [stalled] = attemptsFor();
    await waitUntil('the stopped instance to hang up', async () =>
      stack.sink.sessionClosed(stalled?.sessionId ?? ''),
    );
    release('accept');
    const second = await stack.startInProcess();
    await stack.waitUntilSent([event.id], 60_000);

    expect(attemptsFor()).toHaveLength(2);
    expect(stack.sink.withMessageId(messageId)).toHaveLength(1);
    await second.stop(1_000);
    stack.sink.behaviour = () => ({ kind: 'accept' });
  });

  it('when nats-server restarts, then the consumer carries on by itself', async () => {
    const service = await stack.startInProcess();
    await stack.publishAndWaitUntilSent();

    await stack.nats.stop();
    await waitUntil('readiness to report NATS down', async () => {
      const response = await fetch(`http://127.0.0.1:${service.http.port}/readyz`);
      const body = (await response.json()) as { dependencies: Record<string, string> };
      return response.status === 503 && body.dependencies.nats === 'down';
    });
    await stack.nats.start();
    const after = newUserCreatedEvent();
    await waitUntil('publishing after the restart', async () => {
      await stack.publish(after);
      return true;
    });
    await stack.waitUntilSent([after.id], 60_000);

    expect(stack.sink.withMessageId(welcomeMessageId(after.id))).toHaveLength(1);
    await service.stop(1_000);
  });

  it('when the DLQ CLI lists and purges, then it shows each dead letter and empties the stream', async () => {
    const service = await stack.startInProcess();
    await stack.publishRaw(new TextEncoder().encode('not json at all'));
    await stack.publishRaw(new TextEncoder().encode('{"specversion":"0.3"}'));
    const letters = await stack.waitForDeadLetters(2);

    const { stdout: listed } = await stack.dlq('list');
    const { stdout: shown } = await stack.dlq('show', String(letters[0]?.seq));
    const { stdout: purged } = await stack.dlq('purge', '--all');
    const { stdout: empty } = await stack.dlq('list');

    const lines = listed.trim().split('\n');
    expect(lines[0]).toMatch(
      /^SEQ\s+DEAD-LETTERED\s+REASON\s+ATTEMPTS\s+ORIGINAL\s+EVENT\s+DETAIL$/,
    );
    expect(lines.slice(1).map((line) => line.split(/\s+/)[2])).toEqual([
      'not-json',
      'not-cloudevent',
    ]);
    expect(shown).toContain('Dlq-Reason: not-json');
    expect(shown).toContain('not json at all');
    expect(purged.trim()).toBe('purged 2 dead letter(s)');
    expect(empty.trim()).toBe('DLQ is empty');
    await service.stop(1_000);
  });

  it('when consumers take deliveries of a message and die with them, more times than the budget, then it is neither given up on nor dead-lettered, and is emailed once', async () => {
    const overrides = { RETRY_BACKOFF_MS: '1000,1000', CONSUMER_ACK_WAIT_MS: '1000' };
    const provisioning = await stack.startInProcess(overrides);
    await provisioning.stop(1_000);
    const lettersBefore = (await stack.deadLetters()).length;
    const event = newUserCreatedEvent();
    await stack.publish(event);
    // Consumers that take the message and die with it: they never ack, nak or term.
    const consumer = await stack.js.consumers.get(STREAMS.users, WELCOME_EMAIL_CONSUMER);
    const deliveries: number[] = [];
    while (deliveries.length < 4) {
      const message = await consumer.next({ expires: 5_000 });
      if (message) deliveries.push(message.info.deliveryCount);
    }
    expect(deliveries).toEqual([1, 2, 3, 4]);

    const service = await stack.startInProcess(overrides);
    await stack.waitUntilSent([event.id]);
    await stack.waitUntilConsumerIdle();

    expect(stack.sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    expect(await stack.deadLetters()).toHaveLength(lettersBefore);
    await service.stop(1_000);
  });

  it('when it starts while JetStream has no quorum (two of three nodes down), then it waits instead of exiting and sends once they are back', async () => {
    const routePorts = [await freePort(), await freePort(), await freePort()];
    const nodes = await Promise.all(
      routePorts.map((routePort, index) =>
        startNatsServer({
          cluster: { name: 'quorum', serverName: `n${index + 1}`, routePort, routePorts },
        }),
      ),
    );
    const [first, ...others] = nodes as [NatsServer, NatsServer, NatsServer];
    await waitUntil('the cluster to take the USERS stream', async () => {
      await createUsersStream(first.url, 2_000);
      return true;
    });
    await Promise.all(others.map((node) => node.stop()));
    // Until it notices, the node left alone still acts as the leader and answers.
    await waitUntil('the node left alone to lose its JetStream leader', async () => {
      const jsz = (await (await fetch(`http://127.0.0.1:${first.monitorPort}/jsz`)).json()) as {
        meta_cluster?: { leader?: string };
      };
      return !jsz.meta_cluster?.leader;
    });

    const service = await stack.startProcess({ NATS_URL: first.url }, 'listening');
    await waitUntil('the service to say JetStream does not answer', async () =>
      (await readFile(service.logFile, 'utf8')).includes('JetStream did not answer'),
    );
    expect(service.process.running).toBe(true);

    await Promise.all(others.map((node) => node.start()));
    await waitUntil('the consumer to be up', () => consumerIsUp(service.port), 60_000);
    const event = newUserCreatedEvent();
    const connection = await connect({ servers: nodes.map((node) => node.url) });
    await publishUserCreated(jetstream(connection), encodeEvent(event), event.id);
    await connection.close();
    await waitUntil(
      'the welcome email',
      async () => stack.sink.withMessageId(welcomeMessageId(event.id)).length === 1,
    );
    await service.process.stop();
  }, 120_000);

  it('when its NATS has no JetStream at start, then it waits instead of exiting and consumes once JetStream is there', async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'messaging-service-no-jetstream-'));
    // A bare nats-server: no JetStream, so nothing answers JetStream's API.
    const bare = new ManagedProcess({
      name: 'nats-server without JetStream',
      command: inject('natsServerBinary'),
      args: ['-a', '127.0.0.1', '-p', String(port)],
      logFile: join(dir, 'bare-nats-server.log'),
    });
    onTestFileEnd(() => bare.stop());
    const url = `nats://127.0.0.1:${port}`;
    await waitUntil('the bare nats-server', async () => {
      await (await connect({ servers: url })).close();
      return true;
    });

    const service = await stack.startProcess({ NATS_URL: url }, 'listening');
    await waitUntil('the service to say JetStream does not answer', async () =>
      (await readFile(service.logFile, 'utf8')).includes('JetStream did not answer'),
    );
    expect(service.process.running).toBe(true);

    await bare.stop();
    const withJetStream = await NatsServer.start({
      binary: inject('natsServerBinary'),
      dir,
      port,
    });
    onTestFileEnd(async () => {
      await withJetStream.stop();
      await rm(dir, { recursive: true, force: true });
    });
    await createUsersStream(url, 2_000);
    await waitUntil('the consumer to be up', () => consumerIsUp(service.port), 60_000);
    await service.process.stop();
  }, 120_000);
});
