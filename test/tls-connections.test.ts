import { chmod, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDatabase,
  type NatsServer,
  PostgresServer,
  waitUntil,
} from '@signup-flow/local-stack';
import {
  createTestCertificates,
  onTestFileEnd,
  SmtpSink,
  serve,
  signUp,
  startNatsServer,
  type TestCertificates,
} from '@signup-flow/testing';
import { beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let certificates: TestCertificates;
let strangers: TestCertificates;
let nats: NatsServer;
let postgres: PostgresServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'signup-flow-tls-'));
  // PostgreSQL runs as its own user (see PostgresServer): it must reach its folder inside this one.
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'ca'));
  await mkdir(join(dir, 'other-ca'));
  certificates = await createTestCertificates(join(dir, 'ca'));
  strangers = await createTestCertificates(join(dir, 'other-ca'));
  nats = await startNatsServer({
    tls: { ...certificates.server, caFile: certificates.caFile, verifyClients: true },
  });
  postgres = await PostgresServer.start({
    dir: join(dir, 'postgres'),
    fast: true,
    tls: { ...certificates.server, caFile: certificates.caFile },
  });
  onTestFileEnd(() => postgres.stop());
}, 120_000);

const natsTls = (trusted: TestCertificates) => ({
  NATS_TLS_CA: trusted.caFile,
  NATS_TLS_CERT: certificates.client.certFile,
  NATS_TLS_KEY: certificates.client.keyFile,
});

/** A database URL on the TLS-only PostgreSQL, verified against `caFile` (the standard parameters). */
async function database(name: string, caFile = certificates.caFile): Promise<string> {
  const url = new URL(await createDatabase(postgres.url(), name));
  url.searchParams.set('sslrootcert', caFile);
  return url.toString();
}

describe('TLS to NATS (NATS_TLS_*) and to PostgreSQL (sslmode, sslrootcert)', () => {
  it('when NATS verifies client certificates and PostgreSQL takes only TLS, then both services, on TLS everywhere, carry a signup to its email', async () => {
    const sink = await SmtpSink.start();
    onTestFileEnd(() => sink.stop());
    const users = await serve(
      'user-service',
      { DATABASE_URL: await database('tls_users'), NATS_URL: nats.url, ...natsTls(certificates) },
      dir,
    );
    await serve(
      'messaging-service',
      {
        DATABASE_URL: await database('tls_messaging'),
        NATS_URL: nats.url,
        ...natsTls(certificates),
        SMTP_URL: sink.url,
        MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
      },
      dir,
    );
    expect(postgres.url()).toContain('sslmode=verify-full');

    const response = await signUp(users.baseUrl, 'tls@example.test');

    expect(response.status).toBe(201);
    await waitUntil('the welcome email', async () => sink.received.length === 1);
    const readiness = (await (await fetch(`${users.baseUrl}/readyz`)).json()) as {
      dependencies: Record<string, string>;
    };
    expect(readiness.dependencies).toMatchObject({ postgres: 'up', nats: 'up' });
  });

  it('when the NATS server’s certificate is not from the CA the service trusts, then the service reports NATS down', async () => {
    const users = await serve(
      'user-service',
      { DATABASE_URL: await database('tls_wrong_ca'), NATS_URL: nats.url, ...natsTls(strangers) },
      dir,
    );
    const readiness = (await (await fetch(`${users.baseUrl}/readyz`)).json()) as {
      dependencies: Record<string, string>;
    };
    expect(readiness.dependencies.nats).toBe('down');
  });

  it('when the service has no client certificate and NATS requires one, then it reports NATS down', async () => {
    const users = await serve(
      'user-service',
      {
        DATABASE_URL: await database('tls_no_client_cert'),
        NATS_URL: nats.url,
        NATS_TLS_CA: certificates.caFile,
      },
      dir,
    );
    const readiness = (await (await fetch(`${users.baseUrl}/readyz`)).json()) as {
      dependencies: Record<string, string>;
    };
    expect(readiness.dependencies.nats).toBe('down');
  });

  it('when PostgreSQL’s certificate is not from the CA in sslrootcert, then the service does not start', async () => {
    await expect(
      serve(
        'user-service',
        {
          DATABASE_URL: await database('tls_pg_wrong_ca', strangers.caFile),
          NATS_URL: nats.url,
          ...natsTls(certificates),
        },
        dir,
      ),
    ).rejects.toThrow(/exited:[\s\S]*certificate/i);
  });

  it('when the service connects to PostgreSQL without TLS, then PostgreSQL refuses it', async () => {
    const url = new URL(await createDatabase(postgres.url(), 'tls_plain'));
    url.search = '?sslmode=disable';
    await expect(
      serve(
        'user-service',
        { DATABASE_URL: url.toString(), NATS_URL: nats.url, ...natsTls(certificates) },
        dir,
      ),
    ).rejects.toThrow(/exited:[\s\S]*pg_hba\.conf rejects connection .* no encryption/);
  });
});
