import { STREAMS } from '@signup-flow/events';
import { waitUntil } from '@signup-flow/local-stack';
import { beforeAll, describe, expect, it } from 'vitest';
import { welcomeMessageId } from '../src/domain/send-welcome-email.js';
import { metricValue, newUserCreatedEvent, Stack } from './support.js';

describe('welcome email', () => {
  let stack: Stack;
  let port: number;

  beforeAll(async () => {
    stack = await Stack.start();
    port = (await stack.startInProcess()).http.port;
  });

  it('when a UserCreated event arrives, then one email goes to the user with the right content', async () => {
    const event = await stack.publishAndWaitUntilSent(
      newUserCreatedEvent('Zoë <script>alert("x")</script> & Co'),
    );

    expect(stack.sink.received).toHaveLength(1);
    const [email] = stack.sink.received;
    expect(email?.to).toEqual([event.data.email]);
    expect(email?.from).toEqual({ address: 'welcome@signup-flow.test', name: 'Signup Flow' });
    expect(email?.messageId).toBe(welcomeMessageId(event.id));
    expect(email?.subject).toBe(`Welcome to signup-flow, ${event.data.name}!`);
    expect(email?.text).toContain(`Hello ${event.data.name},`);
    expect(email?.html).toContain('Zoë &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(email?.html).not.toContain('<script>');
    expect(await stack.delivery(event.id)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('when the same event is published again after the dedupe window, then no second email is sent', async () => {
    const event = await stack.publishAndWaitUntilSent();
    const before = (await stack.jsm.streams.info(STREAMS.users)).state.last_seq;

    // The stream's duplicate window is 2 s in these tests: republish until JetStream stores the copy
    // (stack.publish throws while it is still dropped as a duplicate).
    await waitUntil(
      'JetStream to store the copy once its duplicate window passed',
      async () => {
        await stack.publish(event);
        return true;
      },
      10_000,
      250,
    );
    const copy = before + 1;
    const after = await stack.publishAndWaitUntilSent();
    await stack.waitUntilConsumerIdle();

    expect((await stack.jsm.streams.info(STREAMS.users)).state.last_seq).toBe(copy + 1);
    expect(stack.sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    expect(stack.sink.withMessageId(welcomeMessageId(after.id))).toHaveLength(1);
  });

  it('when emails have been sent, then /metrics reports outcomes, latency and the consumer backlog', async () => {
    await stack.waitUntilConsumerIdle();

    expect(await metricValue(port, 'signupflow_messages_consumed_total', 'outcome="sent"')).toBe(3);
    expect(
      await metricValue(port, 'signupflow_messages_consumed_total', 'outcome="already_sent"'),
    ).toBe(1);
    expect(await metricValue(port, 'signupflow_signup_to_email_latency_seconds_count')).toBe(3);
    expect(await metricValue(port, 'signupflow_consumer_pending_messages')).toBe(0);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain('# TYPE signupflow_consumer_ack_pending_messages gauge');
    expect(text).not.toContain('@example.test');
  });
});
