import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  /** The CA that signed both certificates below. */
  caFile: string;
  /** For 127.0.0.1 and localhost. */
  server: { certFile: string; keyFile: string };
  /** A client certificate, for servers that verify their clients. */
  client: { certFile: string; keyFile: string };
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** A key and a certificate for `subject`, signed by the CA in `dir` ({@link createCertificateAuthority}). */
export async function issueCertificate(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): Promise<{ certFile: string; keyFile: string }> {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const request = join(dir, `${name}.csr`);
  const extensionsFile = join(dir, `${name}.ext`);
  await openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
  await openssl(dir, ['req', '-new', '-key', keyFile, '-subj', subject, '-out', request]);
  await run('sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', extensions, extensionsFile]);
  await openssl(dir, [
    ...['x509', '-req', '-in', request, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'],
    ...['-days', '2', '-extfile', extensionsFile, '-out', certFile],
  ]);
  return { certFile, keyFile };
}

/** A throw-away CA (openssl) in `dir`: `ca.crt` and `ca.key`; returns the certificate's path. */
export async function createCertificateAuthority(dir: string): Promise<string> {
  await openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  await openssl(dir, [
    ...['req', '-x509', '-new', '-key', 'ca.key', '-days', '2', '-subj', '/CN=signup-flow test CA'],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign,cRLSign'],
    ...['-out', 'ca.crt'],
  ]);
  return join(dir, 'ca.crt');
}

/** A throw-away CA and a server and a client certificate it signed, in `dir`. */
export async function createTestCertificates(dir: string): Promise<TestCertificates> {
  await createCertificateAuthority(dir);
  return {
    caFile: join(dir, 'ca.crt'),
    server: await issueCertificate(
      dir,
      'server',
      '/CN=localhost',
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth',
    ),
    client: await issueCertificate(
      dir,
      'client',
      '/CN=signup-flow service',
      'extendedKeyUsage=clientAuth',
    ),
  };
}
