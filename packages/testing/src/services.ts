import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, ManagedProcess, StopWaiting, waitUntil } from '@signup-flow/local-stack';
import rootPackage from '../../../package.json' with { type: 'json' };
import { createTestDatabase, onTestFileEnd } from './harness.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

export type ServiceName = 'user-service' | 'messaging-service';

export interface ServedService {
  port: number;
  baseUrl: string;
  process: ManagedProcess;
}

/**
 * Runs a built service the way the contract's `npm run serve:<service>` does: the script's own
 * command line (telemetry loaded first), with this process's Node 24 in place of `node`. Stopped
 * after the test file. Tracing is off unless `env` turns it on (`OTEL_SDK_DISABLED: 'false'`).
 */
export interface ServeOptions {
  /**
   * When the service counts as started, asked with its base URL until it answers true.
   * @default its `/readyz` answers 200
   */
  ready?: (baseUrl: string) => Promise<boolean>;
}

export async function serve(
  service: ServiceName,
  env: Record<string, string>,
  logDir: string,
  options: ServeOptions = {},
): Promise<ServedService> {
  const [command, ...args] = rootPackage.scripts[`serve:${service}`].split(' ');
  if (command !== 'node')
    throw new Error(`serve:${service} no longer starts with node: ${command}`);
  const port = await freePort();
  const child = new ManagedProcess({
    name: service,
    command: process.execPath,
    args,
    cwd: REPO,
    env: {
      ...process.env,
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'debug',
      ...env,
      PORT: String(port),
    },
    logFile: join(logDir, `${service}-${port}.log`),
  });
  onTestFileEnd(() => child.stop());
  const baseUrl = `http://127.0.0.1:${port}`;
  const ready = options.ready ?? (async (url: string) => (await fetch(`${url}/readyz`)).ok);
  await waitUntil(`${service} ready (log: ${child.logFile})`, async () => {
    if (!child.running) throw new StopWaiting(`${service} exited:\n${await child.finalLogTail()}`);
    return ready(baseUrl);
  });
  return { port, baseUrl, process: child };
}

export interface SignupFlowOptions {
  /** Names the services' databases (`<name>_users`, `<name>_messaging`) and their log folder. */
  name: string;
  natsUrl: string;
  smtpUrl: string;
  /** Where the services log; a fresh folder unless given. */
  logDir?: string;
  /** Turns tracing on, exporting to this OTLP/HTTP endpoint every 100 ms. */
  traceEndpoint?: string;
  /** Variables for the user-service alone (its NATS login, say). */
  userServiceEnv?: Record<string, string>;
  /** Variables for the messaging-service alone. */
  messagingServiceEnv?: Record<string, string>;
}

export interface FlowService extends ServedService {
  databaseUrl: string;
  /** The variables it was started with: another instance started with them is the same service. */
  env: Record<string, string>;
}

export interface SignupFlow {
  users: FlowService;
  messaging: FlowService;
  logDir: string;
}

/**
 * Both services as processes ({@link serve}), each on a fresh database of its own, carrying a
 * signup to its welcome email through one NATS and one mail server. The user-service starts
 * first: it creates the USERS stream the messaging-service consumes.
 */
export async function serveSignupFlow(options: SignupFlowOptions): Promise<SignupFlow> {
  const logDir = options.logDir ?? (await mkdtemp(join(tmpdir(), `signup-flow-${options.name}-`)));
  const tracing = options.traceEndpoint && {
    OTEL_SDK_DISABLED: 'false',
    OTEL_EXPORTER_OTLP_ENDPOINT: options.traceEndpoint,
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  const usersEnv = {
    DATABASE_URL: await createTestDatabase(`${options.name}_users`),
    NATS_URL: options.natsUrl,
    ...tracing,
    ...options.userServiceEnv,
  };
  const users = await serve('user-service', usersEnv, logDir);
  const messagingEnv = {
    DATABASE_URL: await createTestDatabase(`${options.name}_messaging`),
    NATS_URL: options.natsUrl,
    SMTP_URL: options.smtpUrl,
    MAIL_FROM: 'signup-flow <welcome@signup-flow.test>',
    ...tracing,
    ...options.messagingServiceEnv,
  };
  const messaging = await serve('messaging-service', messagingEnv, logDir);
  return {
    users: { ...users, databaseUrl: usersEnv.DATABASE_URL, env: usersEnv },
    messaging: { ...messaging, databaseUrl: messagingEnv.DATABASE_URL, env: messagingEnv },
    logDir,
  };
}
