import { freePort } from '@signup-flow/local-stack';
import { SmtpSink, startDroppingServer } from '@signup-flow/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createSmtpMailer,
  type Mailer,
  type OutgoingEmail,
  SEND_FAILURES,
  type SendFailure,
} from '../src/mail/smtp-mailer.js';

const email: OutgoingEmail = {
  to: 'grace@example.test',
  subject: 'Welcome',
  text: 'Hello',
  html: '<p>Hello</p>',
  messageId: '<0190a3c4-0000-7000-8000-000000000001@signup-flow>',
};

/** What a send that failed this way answers. */
const failedWith = (failure: SendFailure) => ({ ok: false, failure });

describe('SMTP mailer against a real SMTP server', () => {
  let sink: SmtpSink;
  /** The test's mailers: closed after it, and the sink back to accepting. */
  const mailers: Mailer[] = [];

  const mailerFor = (url: string, replyTimeoutMs = 5_000) => {
    const mailer = createSmtpMailer({
      url,
      from: 'signup-flow <no-reply@signup-flow.test>',
      connectTimeoutMs: 5_000,
      replyTimeoutMs,
      poolSize: 2,
    });
    mailers.push(mailer);
    return mailer;
  };

  beforeAll(async () => {
    sink = await SmtpSink.start({ credentials: { user: 'mailer', pass: 's3cret' } });
  });
  afterEach(() => {
    for (const mailer of mailers.splice(0)) mailer.close();
    sink.behaviour = () => ({ kind: 'accept' });
  });
  afterAll(() => sink.stop());

  it('when the credentials in SMTP_URL are right, then the email is accepted with its Message-ID', async () => {
    const mailer = mailerFor(`smtp://mailer:s3cret@127.0.0.1:${sink.port}`);

    const result = await mailer.send(email);

    expect(result).toMatchObject({ ok: true });
    expect(sink.withMessageId(email.messageId)).toHaveLength(1);
  });

  it('when the credentials are wrong (535), then the server counts as unavailable, not the message as refused, and the probe fails', async () => {
    const mailer = mailerFor(`smtp://mailer:wrong@127.0.0.1:${sink.port}`);

    expect(await mailer.send(email)).toMatchObject(failedWith(SEND_FAILURES.serverUnavailable));
    await expect(mailer.probe()).rejects.toThrow();
  });

  it('when the server answers 451, then the message failed transiently; 554, permanently; 421, the server is unavailable; none names the recipient', async () => {
    const mailer = mailerFor(`smtp://mailer:s3cret@127.0.0.1:${sink.port}`);
    sink.behaviour = () => ({ kind: 'reject', code: 451, message: `busy for <${email.to}>` });
    const transient = await mailer.send(email);
    sink.behaviour = () => ({ kind: 'reject', code: 554, message: `no such user <${email.to}>` });
    const permanent = await mailer.send(email);
    sink.behaviour = () => ({ kind: 'reject', code: 421, message: 'shutting down' });
    const unavailable = await mailer.send(email);

    expect(transient).toMatchObject(failedWith(SEND_FAILURES.messageTransient));
    expect(permanent).toMatchObject(failedWith(SEND_FAILURES.permanent));
    expect(unavailable).toMatchObject(failedWith(SEND_FAILURES.serverUnavailable));
    expect(JSON.stringify([transient, permanent, unavailable])).not.toContain(email.to);
  });

  it('when the server does not answer the end of DATA within the reply timeout, then the message failed transiently', async () => {
    const mailer = mailerFor(`smtp://mailer:s3cret@127.0.0.1:${sink.port}`, 500);
    let release: (decision: 'accept' | 'reject') => void = () => undefined;
    sink.behaviour = () => ({
      kind: 'stall',
      release: new Promise((resolve) => (release = resolve)),
    });
    try {
      expect(await mailer.send(email)).toMatchObject(failedWith(SEND_FAILURES.messageTransient));
    } finally {
      release('reject');
    }
  });

  it('when nothing listens or the server drops the connection, then the server is unavailable and the probe fails', async () => {
    const dropping = await startDroppingServer();
    const refused = mailerFor(`smtp://127.0.0.1:${await freePort()}`);
    const dropped = mailerFor(dropping.url);
    try {
      for (const mailer of [refused, dropped]) {
        expect(await mailer.send(email)).toMatchObject(failedWith(SEND_FAILURES.serverUnavailable));
        await expect(mailer.probe()).rejects.toThrow();
      }
    } finally {
      await dropping.stop();
    }
  });
});
