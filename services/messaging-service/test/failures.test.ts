import { EVENT_TYPES, encodeEvent, HEADERS, STREAMS } from '@signup-flow/events';
import { beforeAll, describe, expect, it } from 'vitest';
import { welcomeMessageId } from '../src/domain/send-welcome-email.js';
import {
  DeadLetterPublisher,
  DLQ_HEADERS,
  DLQ_REASONS,
  REPLAYED_FROM_HEADER,
} from '../src/messaging/dead-letters.js';
import { WELCOME_EMAIL_CONSUMER } from '../src/messaging/jetstream.js';
import { newUserCreatedEvent, Stack } from './support.js';

describe('failures', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start();
    await stack.startInProcess({ MAX_EVENT_BYTES: '4096' });
  });

  const attemptsFor = (eventId: string) =>
    stack.sink.attemptsWithMessageId(welcomeMessageId(eventId));

  it("when the recipient's server answers 451 twice, then two attempts are spent and the email is delivered on the third after the backoff", async () => {
    const event = newUserCreatedEvent();
    const messageId = welcomeMessageId(event.id);
    stack.sink.refuse(messageId, { code: 451, message: 'try again later' }, 2);

    await stack.publishAndWaitUntilSent(event);

    const attempts = attemptsFor(event.id);
    expect(attempts).toHaveLength(3);
    expect(stack.sink.withMessageId(messageId)).toHaveLength(1);
    // The backoff is 1 s, then 2 s: the attempts cannot be closer than that.
    const gaps = attempts
      .slice(1)
      .map((attempt, i) => attempt.at.getTime() - (attempts[i]?.at.getTime() ?? 0));
    expect(gaps[0]).toBeGreaterThanOrEqual(1000);
    expect(gaps[1]).toBeGreaterThanOrEqual(2000);
    expect(await stack.delivery(event.id)).toMatchObject({
      status: 'sent',
      attempts: 3,
      failedAttempts: 2,
    });
    expect(await stack.deadLetters()).toHaveLength(0);
  });

  it('when the SMTP server answers 550, then it is tried once, the ledger says failed and one dead letter holds it', async () => {
    const event = newUserCreatedEvent();
    stack.sink.refuse(welcomeMessageId(event.id), {
      code: 550,
      message: `mailbox <${event.data.email}> unavailable`,
    });

    await stack.publish(event);
    const [letter] = await stack.waitForDeadLetters(1);

    expect(attemptsFor(event.id)).toHaveLength(1);
    expect(await stack.delivery(event.id)).toMatchObject({
      status: 'failed',
      attempts: 1,
      failedAttempts: 1,
    });
    expect(letter?.subject).toBe('dlq.users.created');
    expect(new TextDecoder().decode(letter?.data)).toBe(
      new TextDecoder().decode(encodeEvent(event)),
    );
    expect(letter?.header.get(DLQ_HEADERS.reason)).toBe(DLQ_REASONS.smtpRejected);
    expect(letter?.header.get(DLQ_HEADERS.attempts)).toBe('1');
    expect(letter?.header.get(DLQ_HEADERS.originalMsgId)).toBe(event.id);
    expect(letter?.header.get(DLQ_HEADERS.originalSubject)).toBe('users.created');
    expect(Number(letter?.header.get(DLQ_HEADERS.originalSequence))).toBeGreaterThan(0);
    expect(letter?.header.get(DLQ_HEADERS.firstFailure)).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(letter?.header.get(DLQ_HEADERS.lastFailure)).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(letter?.header.get(DLQ_HEADERS.originalStream)).toBe(STREAMS.users);
    expect(letter?.header.get(DLQ_HEADERS.consumer)).toBe(WELCOME_EMAIL_CONSUMER);
    expect(letter?.header.get(HEADERS.messageId)).toBe(
      `${STREAMS.users}-${letter?.header.get(DLQ_HEADERS.originalSequence)}`,
    );
    expect(letter?.header.get(DLQ_HEADERS.detail)).toContain('550');
    expect(letter?.header.get(DLQ_HEADERS.detail)).not.toContain(event.data.email);
    expect(letter?.header.get(HEADERS.contentType)).toBeTruthy();

    // The cause is fixed: the mailbox now exists. A replay sends the email once.
    stack.sink.behaviour = () => ({ kind: 'accept' });
    const { stdout } = await stack.dlq('replay', String(letter?.seq));
    expect(stdout).toContain(`replayed DLQ#${letter?.seq} to users.created`);
    const replayedSeq = Number(/as USERS#(\d+)/.exec(stdout)?.[1]);
    const replayed = await stack.jsm.streams.getMessage(STREAMS.users, { seq: replayedSeq });
    expect(replayed?.header.get(REPLAYED_FROM_HEADER)).toBe(String(letter?.seq));
    expect(replayed?.header.get(HEADERS.messageId)).toBe(`${event.id}.replay-${letter?.seq}`);
    expect([...(replayed?.header.keys() ?? [])].filter((name) => /^dlq-/i.test(name))).toEqual([]);
    await stack.waitUntilSent([event.id]);
    expect(stack.sink.withMessageId(welcomeMessageId(event.id))).toHaveLength(1);
    // The replay reopened the failed delivery with a fresh budget.
    expect(await stack.delivery(event.id)).toMatchObject({
      status: 'sent',
      attempts: 2,
      failedAttempts: 0,
    });
    expect(await stack.deadLetters()).toHaveLength(0);
  });

  it('when the same message is dead-lettered twice (a crash before its term), then the DLQ stores it once', async () => {
    const publisher = new DeadLetterPublisher(stack.js, WELCOME_EMAIL_CONSUMER);
    const lettersBefore = (await stack.deadLetters()).length;
    const original = {
      stream: STREAMS.users,
      streamSequence: 987_654,
      subject: 'users.created',
      data: encodeEvent(newUserCreatedEvent()),
      headers: undefined,
    };
    const letter = {
      reason: DLQ_REASONS.smtpRejected,
      detail: '550 no such user',
      attempts: 1,
      firstFailure: new Date(),
      lastFailure: new Date(),
    };

    const first = await publisher.publish(original, letter);
    const second = await publisher.publish(original, letter);

    expect([first, second]).toEqual([true, false]);
    expect(await stack.deadLetters()).toHaveLength(lettersBefore + 1);
    await stack.jsm.streams.purge(STREAMS.deadLetters);
  });

  it('when poison messages arrive, then each goes to the DLQ once with its reason and the next valid event is delivered', async () => {
    const lettersBefore = (await stack.deadLetters()).length;
    const wrongType = { ...newUserCreatedEvent(), type: `${EVENT_TYPES.userCreated}x` };
    const missingField = { ...newUserCreatedEvent(), data: { userId: 'not-a-uuid' } };
    await stack.publishRaw(new TextEncoder().encode('{"not json'));
    await stack.publishRaw(new TextEncoder().encode(JSON.stringify(wrongType)), wrongType.id);
    await stack.publishRaw(new TextEncoder().encode(JSON.stringify(missingField)));
    await stack.publishRaw(new TextEncoder().encode(JSON.stringify({ pad: 'x'.repeat(8000) })));
    const valid = await stack.publishAndWaitUntilSent();
    const letters = (await stack.waitForDeadLetters(lettersBefore + 4)).slice(lettersBefore);

    expect(letters.map((letter) => letter.header.get(DLQ_HEADERS.reason)).sort()).toEqual(
      [
        DLQ_REASONS.notJson,
        DLQ_REASONS.unknownType,
        DLQ_REASONS.invalidEvent,
        DLQ_REASONS.tooLarge,
      ].sort(),
    );
    expect(letters.every((letter) => letter.header.get(DLQ_HEADERS.attempts) === '1')).toBe(true);
    expect(stack.sink.withMessageId(welcomeMessageId(valid.id))).toHaveLength(1);
  });

  it('when every attempt meets a transient refusal, then the budget of RETRY_BACKOFF_MS attempts is spent and the message is dead-lettered', async () => {
    const event = newUserCreatedEvent();
    const lettersBefore = (await stack.deadLetters()).length;
    stack.sink.refuse(welcomeMessageId(event.id), { code: 451, message: 'local problem' });

    await stack.publish(event);
    const letter = (await stack.waitForDeadLetters(lettersBefore + 1))[lettersBefore];

    // RETRY_BACKOFF_MS has five entries in these tests: a budget of five attempts.
    expect(attemptsFor(event.id)).toHaveLength(5);
    expect(letter?.header.get(DLQ_HEADERS.reason)).toBe(DLQ_REASONS.maxDeliveries);
    expect(letter?.header.get(DLQ_HEADERS.attempts)).toBe('5');
    expect(letter?.header.get(DLQ_HEADERS.originalMsgId)).toBe(event.id);
    expect(Date.parse(letter?.header.get(DLQ_HEADERS.lastFailure) ?? '')).toBeGreaterThan(
      Date.parse(letter?.header.get(DLQ_HEADERS.firstFailure) ?? ''),
    );
    expect(await stack.delivery(event.id)).toMatchObject({
      status: 'failed',
      attempts: 5,
      failedAttempts: 5,
    });
    // A re-publish of a dead-lettered event neither reopens it (only a replay does) nor adds a
    // second dead letter. The ledger records the dead letter after publishing it: wait for that.
    await expect
      .poll(async () => (await stack.delivery(event.id))?.deadLetteredAt)
      .toBeInstanceOf(Date);
    await stack.publishRaw(encodeEvent(event), `${event.id}-again`);
    await stack.waitUntilConsumerIdle();
    expect(attemptsFor(event.id)).toHaveLength(5);
    expect(await stack.deadLetters()).toHaveLength(lettersBefore + 1);
    stack.sink.behaviour = () => ({ kind: 'accept' });
  });

  it('when the DLQ CLI is given an unknown sequence, then it says so on one line and exits non-zero', async () => {
    const failure = await stack
      .dlq('show', '999999')
      .catch((error: { code: number; stderr: string }) => error);

    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr.split('\n')[0]).toBe(
      'dlq: no dead letter with sequence 999999 in DLQ',
    );
  });
});
