import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '@signup-flow/local-stack';
import {
  createTestDatabase,
  onTestFileEnd,
  SmtpSink,
  serve,
  startNatsServer,
  waitForConsumersSettled,
} from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';

describe('signup to welcome email, both services as processes', () => {
  let sink: SmtpSink;
  let natsUrl: string;
  let userServicePort: number;

  beforeAll(async () => {
    const nats = await startNatsServer();
    natsUrl = nats.url;
    sink = await SmtpSink.start();
    onTestFileEnd(() => sink.stop());
    const logDir = await mkdtemp(join(tmpdir(), 'signup-flow-e2e-'));
    const users = await serve(
      'user-service',
      { DATABASE_URL: await createTestDatabase('e2e_users'), NATS_URL: natsUrl },
      logDir,
    );
    userServicePort = users.port;
    await serve(
      'messaging-service',
      {
        DATABASE_URL: await createTestDatabase('e2e_messaging'),
        NATS_URL: natsUrl,
        SMTP_URL: sink.url,
        MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
      },
      logDir,
    );
  });

  it('when someone signs up over HTTP, then exactly one welcome email reaches them', async () => {
    const signup = {
      email: 'Katherine.Johnson@example.test',
      password: 'orbital-mechanics-1962',
      name: 'Katherine & "Kat" Johnson',
    };

    const response = await fetch(`http://127.0.0.1:${userServicePort}/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signup),
    });
    expect(response.status).toBe(201);
    await waitUntil('the welcome email', async () => sink.received.length > 0);
    // Once the consumer has settled everything, a second email would have been sent by now.
    await waitForConsumersSettled(natsUrl);

    expect(sink.received).toHaveLength(1);
    const [email] = sink.received;
    expect(email?.to.map((address) => address.toLowerCase())).toEqual([signup.email.toLowerCase()]);
    expect(email?.from.address).toBe('welcome@signup-flow.test');
    expect(email?.messageId).toMatch(/^<[0-9a-f-]{36}@signup-flow>$/);
    expect(email?.text).toContain(signup.name);
    expect(email?.html).toContain('Katherine &amp; &quot;Kat&quot; Johnson');
  });
});
