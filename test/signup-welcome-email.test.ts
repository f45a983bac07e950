import { waitUntil } from '@signup-flow/local-stack';
import {
  type SmtpSink,
  serveSignupFlow,
  startNatsServer,
  startSmtpSink,
  waitForConsumersSettled,
} from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';

describe('signup to welcome email, both services as processes', () => {
  let sink: SmtpSink;
  let natsUrl: string;
  let userServicePort: number;

  beforeAll(async () => {
    natsUrl = (await startNatsServer()).url;
    sink = await startSmtpSink();
    const { users } = await serveSignupFlow({ name: 'e2e', natsUrl, smtpUrl: sink.url });
    userServicePort = users.port;
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
