import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, ManagedProcess, StopWaiting, waitUntil } from '@signup-flow/local-stack';
import rootPackage from '../../../package.json' with { type: 'json' };
import { onTestFileEnd } from './harness.js';

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
