import { readFile } from 'node:fs/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { STREAMS, SUBJECTS } from '@signup-flow/events';
import type { NatsServer } from '@signup-flow/local-stack';
import { waitUntil } from '@signup-flow/local-stack';
import { NATS_PERMISSIONS } from '@signup-flow/nats';
import {
  type SmtpSink,
  serveSignupFlow,
  signUp,
  startNatsServer,
  startSmtpSink,
} from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const PASSWORDS = {
  'user-service': 'user-service-secret',
  'messaging-service': 'messaging-secret',
};
const REFUSED = 'refused@example.test';
let nats: NatsServer;
let sink: SmtpSink;
let userService: string;

function as(user: keyof typeof PASSWORDS) {
  return connect({ servers: nats.url, user, pass: PASSWORDS[user], reconnect: false });
}

beforeAll(async () => {
  nats = await startNatsServer({
    users: Object.entries(NATS_PERMISSIONS).map(([user, permissions]) => ({
      user,
      password: PASSWORDS[user as keyof typeof PASSWORDS],
      permissions,
    })),
  });
  sink = await startSmtpSink();
  sink.refuseRecipient(REFUSED, { code: 550, message: 'no such mailbox' });
  userService = (
    await serveSignupFlow({
      name: 'perm',
      natsUrl: nats.url,
      smtpUrl: sink.url,
      userServiceEnv: login('user-service'),
      messagingServiceEnv: login('messaging-service'),
    })
  ).users.baseUrl;
});

/** What a service sets to log in to NATS as its own user. */
function login(user: keyof typeof PASSWORDS): Record<string, string> {
  return { NATS_USER: user, NATS_PASSWORD: PASSWORDS[user] };
}

async function signUpAs(email: string): Promise<void> {
  expect((await signUp(userService, email)).status).toBe(201);
}

async function violations(): Promise<string[]> {
  const log = await readFile(nats.logFile, 'utf8');
  return log.split('\n').filter((line) => /Violation/i.test(line));
}

describe('NATS least privilege: each service as its own user, with only the permissions it needs', () => {
  it('when both services run with exactly NATS_PERMISSIONS, then a signup is emailed, a refused one is dead-lettered, and the server saw no permission violation', async () => {
    await signUpAs('permitted@example.test');
    await signUpAs(REFUSED);
    await waitUntil('the welcome email', async () => sink.received.length === 1);
    const messaging = await as('messaging-service');
    try {
      const jsm = await jetstreamManager(messaging);
      await waitUntil(
        'the dead letter',
        async () => (await jsm.streams.info(STREAMS.deadLetters)).state.messages === 1,
      );
    } finally {
      await messaging.close();
    }
    expect(await violations()).toEqual([]);
  });

  it('when a new version of each service changes its stream’s settings, then each may update its own stream', async () => {
    await serveSignupFlow({
      name: 'perm_v2',
      natsUrl: nats.url,
      smtpUrl: sink.url,
      userServiceEnv: { ...login('user-service'), USERS_STREAM_MAX_AGE_SECONDS: '86400' },
      messagingServiceEnv: { ...login('messaging-service'), DLQ_MAX_AGE_DAYS: '7' },
    });
    const connection = await as('messaging-service');
    try {
      const jsm = await jetstreamManager(connection);
      await waitUntil('both streams updated', async () => {
        const [users, dlq] = await Promise.all([
          jsm.streams.info(STREAMS.users),
          jsm.streams.info(STREAMS.deadLetters),
        ]);
        return users.config.max_age === 86_400 * 1e9 && dlq.config.max_age === 7 * 86_400 * 1e9;
      });
    } finally {
      await connection.close();
    }
    expect(await violations()).toEqual([]);
  });

  it('when the user-service’s user tries what it does not do, then nats-server refuses it', async () => {
    const connection = await as('user-service');
    try {
      const jsm = await jetstreamManager(connection, { timeout: 2_000 });
      await expect(jsm.streams.delete(STREAMS.users)).rejects.toThrow(/permission/i);
      await expect(jsm.streams.info(STREAMS.deadLetters)).rejects.toThrow(/permission/i);
    } finally {
      await connection.close();
    }
  });

  it('when the messaging-service’s user tries to publish a UserCreated, then nats-server refuses it', async () => {
    const connection = await as('messaging-service');
    try {
      const js = jetstream(connection, { timeout: 2_000 });
      await expect(js.publish(SUBJECTS.userCreated, '{}')).rejects.toThrow(/permission|timeout/i);
      await waitUntil('the refusal in the server log', async () =>
        (await violations()).some((line) => line.includes(SUBJECTS.userCreated)),
      );
    } finally {
      await connection.close();
    }
  });
});
