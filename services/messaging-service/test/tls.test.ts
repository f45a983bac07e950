import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSmtpSink } from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { welcomeMessageId } from '../src/domain/send-welcome-email.js';
import { Stack } from './support.js';

const run = promisify(execFile);

/** A self-signed certificate for `localhost`, trusted by the service through NODE_EXTRA_CA_CERTS. */
async function localhostCertificate(
  dir: string,
): Promise<{ key: Buffer; cert: Buffer; certFile: string }> {
  const keyFile = join(dir, 'smtp-key.pem');
  const certFile = join(dir, 'smtp-cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  return { key: await readFile(keyFile), cert: await readFile(certFile), certFile };
}

describe('SMTP over TLS', () => {
  let stack: Stack;
  let certificate: Awaited<ReturnType<typeof localhostCertificate>>;

  beforeAll(async () => {
    stack = await Stack.start();
    certificate = await localhostCertificate(stack.logDir);
  });

  it.each(['implicit TLS (smtps://)', 'STARTTLS (smtp://)'])(
    'when SMTP_URL asks for %s, then the welcome email travels encrypted',
    async (mode) => {
      const implicit = mode.startsWith('implicit');
      const sink = await startSmtpSink({
        credentials: { user: 'mailer', pass: 's3cret' },
        tls: { key: certificate.key, cert: certificate.cert, implicit },
      });
      const service = await stack.startProcess({
        SMTP_URL: `${implicit ? 'smtps' : 'smtp'}://mailer:s3cret@localhost:${sink.port}`,
        NODE_EXTRA_CA_CERTS: certificate.certFile,
      });

      const event = await stack.publishAndWaitUntilSent();
      await service.process.stop();

      const [email] = sink.withMessageId(welcomeMessageId(event.id));
      expect(email?.secure).toBe(true);
      expect(email?.to).toEqual([event.data.email]);
    },
  );
});
