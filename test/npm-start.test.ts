import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, isPortOpen, PORT_VARIABLES, waitUntil } from '@signup-flow/local-stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('..', import.meta.url));

interface RunningStart {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  hasExited: () => boolean;
}

/** `npm start` in its own process group, as a terminal runs it (Ctrl-C signals the whole group). */
function npmStart(env: NodeJS.ProcessEnv, args: string[] = []): RunningStart {
  const child = spawn('npm', ['start', ...(args.length ? ['--', ...args] : [])], {
    cwd: REPO,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  let hasExited = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      hasExited = true;
      resolve(code);
    });
    child.once('error', (error) => {
      hasExited = true;
      output += `\n${error}`;
      resolve(null);
    });
  });
  return { child, output: () => output, exited, hasExited: () => hasExited };
}

/** Every process in the group `npm start` leads (its whole tree, servers included). */
function processGroup(pgid: number): number[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,pgid=,stat='], { encoding: 'utf8' }).split('\n');
  return lines
    .map((line) => line.trim().split(/\s+/))
    .filter(([, group, stat]) => Number(group) === pgid && !stat?.startsWith('Z'))
    .map(([pid]) => Number(pid));
}

describe('npm start', () => {
  let stateDir: string;
  let env: NodeJS.ProcessEnv;
  let ports: Record<string, number>;
  let stack: RunningStart;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'signup-flow-npm-start-'));
    // As root, PostgreSQL runs as the postgres user, which must reach its folder inside.
    await chmod(stateDir, 0o755);
    ports = {};
    env = { ...process.env, SIGNUP_FLOW_STATE_DIR: stateDir, LOG_LEVEL: 'warn' };
    for (const [variable] of Object.values(PORT_VARIABLES)) {
      const port = await freePort();
      ports[variable] = port;
      env[variable] = String(port);
    }
    stack = npmStart(env);
    await waitUntil(
      'npm start to say it is ready',
      async () => {
        if (stack.hasExited()) throw new Error(`npm start exited:\n${stack.output()}`);
        // The table's last line, not the readiness line: stdout may arrive in several chunks.
        return /signup-flow is ready[\s\S]*stop with Ctrl-C/.test(stack.output());
      },
      600_000,
      250,
    );
  }, 660_000);

  afterAll(async () => {
    // Only when a test failed before Ctrl-C: take the whole group down.
    if (stack && !stack.hasExited() && stack.child.pid) process.kill(-stack.child.pid, 'SIGKILL');
    await rm(stateDir, { recursive: true, force: true });
  });

  it('when ready, then it prints one table of URLs', () => {
    const output = stack.output();
    for (const variable of [
      'USER_SERVICE_PORT',
      'INBOX_PORT',
      'JAEGER_PORT',
      'MESSAGING_SERVICE_PORT',
    ]) {
      expect(output).toContain(`http://127.0.0.1:${ports[variable]}`);
    }
    expect(output).toMatch(/Inbox \(Mailpit\)/);
    expect(output).toMatch(/Traces \(Jaeger\)/);
  });

  it('when a second npm start runs, then it says the stack is already running and exits', async () => {
    const second = npmStart(env);
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toMatch(/signup-flow is already running \(pid \d+/);
    expect(second.output()).toContain(`http://127.0.0.1:${ports.USER_SERVICE_PORT}`);
  });

  it('when a user signs up, then the email reaches the inbox and the trace reaches Jaeger', async () => {
    const demo = spawn('npm', ['run', 'demo'], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    demo.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    demo.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const code = await new Promise((resolve) => demo.once('exit', resolve));
    expect(code, output).toBe(0);
    const traceId = /\/trace\/([0-9a-f]{32})/.exec(output)?.[1];
    const messageId = /\/view\/(\S+)/.exec(output)?.[1];
    expect(traceId).toBeDefined();
    expect(messageId).toBeDefined();

    const message = (await (
      await fetch(`http://127.0.0.1:${ports.INBOX_PORT}/api/v1/message/${messageId}`)
    ).json()) as {
      Subject: string;
      Text: string;
    };
    expect(message.Text).toContain('Demo User');

    let services = new Set<string>();
    await waitUntil(
      'the trace in Jaeger',
      async () => {
        const response = await fetch(
          `http://127.0.0.1:${ports.JAEGER_PORT}/api/v3/traces/${traceId}`,
        );
        if (!response.ok) return false;
        const body = (await response.json()) as {
          result: {
            resourceSpans: Array<{
              resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
            }>;
          };
        };
        services = new Set(
          body.result.resourceSpans.map(
            (spans) =>
              spans.resource.attributes.find((attribute) => attribute.key === 'service.name')?.value
                .stringValue ?? '',
          ),
        );
        return services.has('user-service') && services.has('messaging-service');
      },
      30_000,
      500,
    );
    expect([...services].sort()).toEqual(['messaging-service', 'user-service']);
  });

  it('when interrupted with Ctrl-C, then every process is gone and every port is free', async () => {
    const pgid = stack.child.pid as number;
    expect(processGroup(pgid).length).toBeGreaterThan(5);
    process.kill(-pgid, 'SIGINT');
    await stack.exited;
    await waitUntil(
      'every process of npm start to exit',
      async () => processGroup(pgid).length === 0,
      30_000,
    );
    for (const [variable, port] of Object.entries(ports)) {
      if (variable === 'PROMETHEUS_PORT' && !stack.output().includes(`127.0.0.1:${port}`)) continue;
      expect(await isPortOpen(port), `${variable} ${port}`).toBe(false);
    }
  });
});
