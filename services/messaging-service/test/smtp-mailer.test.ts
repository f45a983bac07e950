import { freePort } from '@signup-flow/local-stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpSink, startDroppingServer } from '../../../test/support/smtp-sink.js';
import { createSmtpMailer, type OutgoingEmail } from '../src/mail/smtp-mailer.js';

const email: OutgoingEmail = {
  to: 'grace@example.test',
  subject: 'Welcome',
  text: 'Hello',
  html: '<p>Hello</p>',
  messageId: '<0190a3c4-0000-7000-8000-000000000001@signup-flow>',
};

const mailerFor = (url: string, timeoutMs = 5_000) =>
  createSmtpMailer({
    url,
    from: 'signup-flow <no-reply@signup-flow.test>',
    timeoutMs,
    poolSize: 2,
  });

describe('SMTP mailer against a real SMTP server', () => {
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await SmtpSink.start({ credentials: { user: 'mailer', pass: 's3cret' } });
  });
  afterAll(() => sink.stop());

  it('when the credentials in SMTP_URL are right, then the email is accepted with its Message-ID', async () => {
    const mailer = mailerFor(`smtp://mailer:s3cret@127.0.0.1:${sink.port}`);
    try {
      const result = await mailer.send(email);

      expect(result).toMatchObject({ ok: true });
      expect(sink.withMessageId(email.messageId)).toHaveLength(1);
    } finally {
      mailer.close();
    }
  });

  it('when the credentials are wrong, then the failure is permanent (535)', async () => {
    const mailer = mailerFor(`smtp://mailer:wrong@127.0.0.1:${sink.port}`);
    try {
      expect(await mailer.send(email)).toMatchObject({ ok: false, permanent: true });
    } finally {
      mailer.close();
    }
  });

  it('when the server answers 4xx, then the failure is transient; 5xx, permanent; neither names the recipient', async () => {
    const mailer = mailerFor(`smtp://mailer:s3cret@127.0.0.1:${sink.port}`);
    try {
      sink.behaviour = () => ({ kind: 'reject', code: 451, message: `busy for <${email.to}>` });
      const transient = await mailer.send(email);
      sink.behaviour = () => ({ kind: 'reject', code: 554, message: `no such user <${email.to}>` });
      const permanent = await mailer.send(email);

      expect(transient).toMatchObject({ ok: false, permanent: false });
      expect(permanent).toMatchObject({ ok: false, permanent: true });
      expect(JSON.stringify([transient, permanent])).not.toContain(email.to);
    } finally {
      sink.behaviour = () => ({ kind: 'accept' });
      mailer.close();
    }
  });

  it('when the server does not answer within the timeout, then the failure is transient', async () => {
    const mailer = mailerFor(`smtp://mailer:s3cret@127.0.0.1:${sink.port}`, 500);
    let release: (decision: 'accept' | 'reject') => void = () => undefined;
    sink.behaviour = () => ({
      kind: 'stall',
      release: new Promise((resolve) => (release = resolve)),
    });
    try {
      expect(await mailer.send(email)).toMatchObject({ ok: false, permanent: false });
    } finally {
      release('reject');
      sink.behaviour = () => ({ kind: 'accept' });
      mailer.close();
    }
  });

  it('when nothing listens or the server drops the connection, then the failure is transient', async () => {
    const dropping = await startDroppingServer();
    const refused = mailerFor(`smtp://127.0.0.1:${await freePort()}`);
    const dropped = mailerFor(dropping.url);
    try {
      expect(await refused.send(email)).toMatchObject({ ok: false, permanent: false });
      expect(await dropped.send(email)).toMatchObject({ ok: false, permanent: false });
    } finally {
      refused.close();
      dropped.close();
      await dropping.stop();
    }
  });
});
