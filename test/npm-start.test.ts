import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  isPortOpen,
  PORT_VARIABLES,
  StopWaiting,
  waitUntil,
} from '@signup-flow/local-stack';
import { BROWSER_INSTALL_HINT, locateBrowser, renderedDom } from '@signup-flow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolForTest } from './k8s/support/tools.js';
import { PROMETHEUS_INSTALL_HINT } from './observability/support/prometheus-tools.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const USER_SERVICE_ALERT = 'SignupFlowOutboxBacklogStuck';

interface RunningStart {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  hasExited: () => boolean;
}

/** What the child writes to stdout and stderr, interleaved as it comes. */
function captureOutput(child: ChildProcess): { text: string } {
  const captured = { text: '' };
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk) => {
      captured.text += chunk;
    });
  }
  return captured;
}

/** `npm start` in its own process group, as a terminal runs it (Ctrl-C signals the whole group). */
function npmStart(env: NodeJS.ProcessEnv, args: string[] = []): RunningStart {
  const child = spawn('npm', ['start', ...(args.length ? ['--', ...args] : [])], {
    cwd: REPO,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  let hasExited = false;
  const exited = new Promise<number | null>((resolve) => {
    // 'close', not 'exit': its last lines may still be in the pipe when the process has exited.
    child.once('close', (code) => {
      hasExited = true;
      resolve(code);
    });
    child.once('error', (error) => {
      hasExited = true;
      output.text += `\n${error}`;
      resolve(null);
    });
  });
  return { child, output: () => output.text, exited, hasExited: () => hasExited };
}

/** The process and every process below it, servers in their own process groups included. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  const lines = execFileSync('ps', ['-eo', 'pid=,ppid=,stat='], { encoding: 'utf8' }).split('\n');
  for (const [pid, ppid, stat] of lines.map((line) => line.trim().split(/\s+/))) {
    if (!pid || stat?.startsWith('Z')) continue;
    children.set(Number(ppid), [...(children.get(Number(ppid)) ?? []), Number(pid)]);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Local addresses of the TCP sockets listening on a port (from /proc/net/tcp and tcp6). */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((table) =>
    readFileSync(table, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      // Field 1 is local address:port, field 3 the state (0A = LISTEN).
      .filter(([, local, , state]) => state === '0A' && local?.endsWith(`:${hexPort}`))
      .map(([, local]) => (local as string).split(':')[0] as string),
  );
}

const LOOPBACK = new Set(['0100007F', '00000000000000000000000001000000']);

async function freshPorts(): Promise<{ env: NodeJS.ProcessEnv; ports: Record<string, number> }> {
  const ports: Record<string, number> = {};
  const env: NodeJS.ProcessEnv = {};
  for (const [variable] of Object.values(PORT_VARIABLES)) {
    const port = await freePort();
    ports[variable] = port;
    env[variable] = String(port);
  }
  return { env, ports };
}

async function untilReady(stack: RunningStart): Promise<void> {
  await waitUntil(
    'npm start to say it is ready',
    async () => {
      if (stack.hasExited()) throw new StopWaiting(`npm start exited:\n${stack.output()}`);
      // The table's last line, not the readiness line: stdout may arrive in several chunks.
      return /signup-flow is ready[\s\S]*stop with Ctrl-C/.test(stack.output());
    },
    600_000,
    250,
  );
}

/**
 * After a stop signal: npm start exits, every process it started is gone, every port is free, and
 * the services stopped before the infrastructure they use.
 */
async function expectCleanStop(
  stack: RunningStart,
  tree: number[],
  ports: Record<string, number>,
): Promise<void> {
  await stack.exited;
  await waitUntil(
    'every process of npm start to exit',
    async () => tree.every((pid) => !isRunning(pid)),
    30_000,
  );
  for (const [variable, port] of Object.entries(ports)) {
    if (variable === 'PROMETHEUS_PORT' && !stack.output().includes(`127.0.0.1:${port}`)) continue;
    expect(await isPortOpen(port), `${variable} ${port}`).toBe(false);
  }
  const output = stack.output();
  expect(output).not.toContain('had already exited');
  const stoppedAt = (part: string) => output.indexOf(`  ${part} stopped (`);
  for (const service of ['user-service', 'messaging-service']) {
    expect(stoppedAt(service), output).toBeGreaterThan(-1);
    for (const infrastructure of ['NATS', 'PostgreSQL']) {
      expect(stoppedAt(service), output).toBeLessThan(stoppedAt(infrastructure));
    }
  }
}

const browser = locateBrowser();

function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

describe('npm start', () => {
  let demoEmail: { id: string; subject: string } | undefined;
  let stateDir: string;
  let env: NodeJS.ProcessEnv;
  let ports: Record<string, number>;
  let stack: RunningStart;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'signup-flow-npm-start-'));
    // As root, PostgreSQL runs as the postgres user, which must reach its folder inside.
    await chmod(stateDir, 0o755);
    const fresh = await freshPorts();
    ports = fresh.ports;
    env = { ...process.env, ...fresh.env, SIGNUP_FLOW_STATE_DIR: stateDir, LOG_LEVEL: 'warn' };
    stack = npmStart(env);
    await untilReady(stack);
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

  it('when ready, then the user-service hashes on a libuv pool of one thread per CPU, handed one hash more, as the chart sizes it', () => {
    const root = stack.child.pid as number;
    const commandLine = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return ''; // gone since the listing
      }
    };
    const userService = processTree(root).find((pid) =>
      commandLine(pid).includes('user-service/dist/main.js'),
    );
    expect(userService).toBeDefined();
    const environment = readFileSync(`/proc/${userService}/environ`, 'utf8').split('\0');
    expect(environment).toContain(`UV_THREADPOOL_SIZE=${availableParallelism()}`);
    expect(environment).toContain(`PASSWORD_HASH_CONCURRENCY=${availableParallelism() + 1}`);
  });

  it('when Jaeger has no UI (a source build), then the table and the demo say so instead of linking a placeholder', async () => {
    const jaeger = `http://127.0.0.1:${ports.JAEGER_PORT}`;
    const placeholder = /not the Jaeger UI/.test(await (await fetch(`${jaeger}/`)).text());
    const row = stack
      .output()
      .split('\n')
      .find((line) => line.includes('Traces (Jaeger)'));
    if (placeholder) {
      expect(row).toContain(`${jaeger}/api/v3/traces/<trace id>`);
      expect(row).toContain('placeholder UI: source build');
    } else {
      expect(row?.trim().endsWith(jaeger)).toBe(true);
    }
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
    const output = captureOutput(demo);
    const code = await new Promise((resolve) => demo.once('exit', resolve));
    expect(code, output.text).toBe(0);
    const traceId = /trace ([0-9a-f]{32}): \d+ spans from/.exec(output.text)?.[1];
    // The waterfall: the request's span first, the SMTP send under the consumer's, on one time axis.
    const waterfall = output.text.split('\n').filter((line) => line.includes('│'));
    const row = (name: string) => waterfall.findIndex((line) => line.endsWith(name));
    expect(row('POST /v1/users'), output.text).toBe(0);
    expect(row('smtp send'), output.text).toBeGreaterThan(row('process users.created'));
    expect(row('process users.created'), output.text).toBeGreaterThan(row('publish users.created'));
    expect(waterfall[row('smtp send')]).toMatch(/█.*messaging-service\s+ {4,}smtp send$/);
    const messageId = /\/view\/(\S+)/.exec(output.text)?.[1];
    expect(traceId).toBeDefined();
    expect(messageId).toBeDefined();

    const message = (await (
      await fetch(`http://127.0.0.1:${ports.INBOX_PORT}/api/v1/message/${messageId}`)
    ).json()) as {
      Subject: string;
      Text: string;
    };
    expect(message.Text).toContain('Demo User');
    demoEmail = { id: messageId as string, subject: message.Subject };

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

  it('when the live-install check runs against it as k8s/README.md shows, then it verifies the signup, its email and its trace', async () => {
    const readme = readFileSync(join(REPO, 'k8s', 'README.md'), 'utf8');
    const line =
      /`((?:\w+=\S+ )+)node (services\/user-service\/dist\/cli\/check-signup-flow\.js)`/.exec(
        readme,
      );
    expect(line, 'k8s/README.md shows the check run against npm start').toBeTruthy();
    // The README's addresses are npm start's defaults; this stack runs on free ports.
    const defaults: Record<string, string> = {
      '8080': String(ports.USER_SERVICE_PORT),
      '8025': String(ports.INBOX_PORT),
      '16686': String(ports.JAEGER_PORT),
    };
    const checkEnv = Object.fromEntries(
      (line?.[1] ?? '')
        .trim()
        .split(' ')
        .map((assignment) => assignment.split('=') as [string, string])
        .map(([name, url]) => [
          name,
          url.replace(/:(\d+)$/, (_all, port: string) => `:${defaults[port]}`),
        ]),
    );
    const result = spawnSync(process.execPath, [line?.[2] ?? ''], {
      cwd: REPO,
      env: { PATH: process.env.PATH, ...checkEnv },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${result.stdout}${result.stderr}`;
    expect(result.status, output).toBe(0);
    expect(output).toMatch(/✓ the welcome email reached Mailpit/);
    expect(output).toMatch(/✓ the trace [0-9a-f]{32} is in Jaeger/);
    expect(output).toMatch(/signup flow check passed/);
  }, 150_000);

  it('when the inbox is opened in a real browser, then it lists the welcome email and opens it', async (context) => {
    const chromium = toolForTest(context, 'headless Chromium', browser, BROWSER_INSTALL_HINT);
    expect(demoEmail, 'the demo test ran first').toBeDefined();
    const { id, subject } = demoEmail as { id: string; subject: string };
    const inbox = `http://127.0.0.1:${ports.INBOX_PORT}`;
    // Mailpit's UI is a script-drawn page: only a browser that runs it shows the messages.
    const list = await renderedDom(chromium, `${inbox}/`);
    expect(list).toContain(escapeHtml(subject));
    const opened = await renderedDom(chromium, `${inbox}/view/${id}`);
    expect(opened).toContain(escapeHtml(subject));
    expect(opened).toContain('Demo User');
  });

  it('when npm run load runs, then it reports its progress and every signup it made gets its email', async () => {
    const inboxTotal = async () =>
      (
        (await (
          await fetch(`http://127.0.0.1:${ports.INBOX_PORT}/api/v1/messages?limit=1`)
        ).json()) as {
          total: number;
        }
      ).total;
    const before = await inboxTotal();
    const load = spawnSync('npm', ['run', 'load', '--', '--rate', '20', '--duration', '3'], {
      cwd: REPO,
      env,
      encoding: 'utf8',
    });
    expect(load.status, load.stdout + load.stderr).toBe(0);
    expect(load.stdout).toMatch(/^\s+1 s\s+sent \d+/m);
    expect(load.stdout).toMatch(/done: .*sent 60 {2}created 60 {2}errors 0/);
    await waitUntil(
      '60 more welcome emails in the inbox',
      async () => (await inboxTotal()) >= before + 60,
    );
  });

  it('when the DLQ tool logs in as the local admin user, as the README says, then it lists the dead letters', () => {
    const password = readFileSync(join(stateDir, 'nats-admin-password'), 'utf8').trim();
    const dlq = spawnSync('npm', ['run', 'dlq', '--', 'list'], {
      cwd: REPO,
      env: {
        ...env,
        NATS_URL: `nats://127.0.0.1:${ports.NATS_PORT}`,
        NATS_USER: 'admin',
        NATS_PASSWORD: password,
      },
      encoding: 'utf8',
    });
    expect(dlq.status, dlq.stdout + dlq.stderr).toBe(0);
  });

  it('when the flow has run, then nats-server saw each service use only the permissions it was given', () => {
    const log = readFileSync(join(stateDir, 'nats', 'nats-server.log'), 'utf8');
    expect(log.split('\n').filter((line) => /Violation/i.test(line))).toEqual([]);
    expect(log).not.toMatch(/Authorization Error/i);
  });

  it('when Prometheus is installed, then it evaluates the charts’ own alert rules against the local services', async (context) => {
    const prometheus = `http://127.0.0.1:${ports.PROMETHEUS_PORT}`;
    // npm start runs Prometheus only where it is installed (it says so in its output).
    toolForTest(
      context,
      'Prometheus',
      stack.output().includes(prometheus) ? prometheus : undefined,
      PROMETHEUS_INSTALL_HINT,
    );
    let rules: Array<{ name: string; type: string; health: string }> = [];
    await waitUntil('Prometheus to evaluate every rule', async () => {
      const body = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as {
        data: { groups: Array<{ rules: typeof rules }> };
      };
      rules = body.data.groups.flatMap((group) => group.rules);
      return rules.length > 0 && rules.every((rule) => rule.health === 'ok');
    });
    const alerts = rules.filter((rule) => rule.type === 'alerting').map((rule) => rule.name);
    expect(alerts).toEqual(
      expect.arrayContaining(['SignupFlowMailServerDown', USER_SERVICE_ALERT]),
    );
    // The rules select the series the local Prometheus scrapes (namespace and job).
    const up = (await (
      await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent('up{namespace="local"}')}`)
    ).json()) as { data: { result: Array<{ metric: { job: string } }> } };
    expect(up.data.result.map((series) => series.metric.job).sort()).toEqual([
      'messaging-service',
      'user-service',
    ]);
  });

  it('when running, then every server it started listens on loopback only', () => {
    for (const [variable, port] of Object.entries(ports)) {
      const addresses = listeningAddresses(port);
      if (variable === 'PROMETHEUS_PORT' && addresses.length === 0) continue;
      expect(addresses.length, `${variable} ${port}`).toBeGreaterThan(0);
      for (const address of addresses) expect(LOOPBACK, `${variable} ${port}`).toContain(address);
    }
  });

  it('when interrupted with Ctrl-C (SIGINT to the terminal’s process group), then the services stop first, then the rest, and nothing is left', async () => {
    const pgid = stack.child.pid as number;
    const tree = processTree(pgid);
    expect(tree.length).toBeGreaterThan(5);
    expect(readFileSync(`/proc/${tree[1]}/cmdline`, 'utf8')).toMatch(/start\.js/);
    process.kill(-pgid, 'SIGINT');
    // npm passes the terminal's signal on to its script, which got it from the terminal already.
    process.kill(tree[1] as number, 'SIGINT');
    await expectCleanStop(stack, tree, ports);
    expect(stack.output().match(/stopping everything/g)).toHaveLength(1);
    expect(stack.output()).not.toContain('still stopping');
  });
});

describe.each([
  ['the npm process', (npm: number) => npm],
  // npm runs start.js through `exec`, so the orchestrator is npm's child.
  ['the orchestrator (start.js)', (npm: number) => processTree(npm)[1] as number],
])('npm start, stopped with SIGTERM to %s', (_, target) => {
  it('then the services stop first, then the rest, and nothing is left', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'signup-flow-npm-start-term-'));
    await chmod(stateDir, 0o755);
    const { env, ports } = await freshPorts();
    const stack = npmStart({
      ...process.env,
      ...env,
      SIGNUP_FLOW_STATE_DIR: stateDir,
      LOG_LEVEL: 'warn',
    });
    try {
      await untilReady(stack);
      const npm = stack.child.pid as number;
      const tree = processTree(npm);
      expect(readFileSync(`/proc/${target(npm)}/cmdline`, 'utf8')).toMatch(
        target(npm) === npm ? /npm/ : /start\.js/,
      );
      process.kill(target(npm), 'SIGTERM');
      await expectCleanStop(stack, tree, ports);
    } finally {
      if (!stack.hasExited() && stack.child.pid) process.kill(-stack.child.pid, 'SIGKILL');
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 660_000);
});
