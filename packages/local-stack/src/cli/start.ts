/**
 * `npm start`: the whole system on this machine, no Docker and no cluster needed.
 *
 *   npm start                 start (state kept in .local/ across restarts)
 *   npm start -- --demo       start, then sign a demo user up and show the email and the trace
 *   npm start -- --reset      forget all state (users, streams, mail, traces) first
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runDemo } from '../demo.js';
import { LocalStack, type StackUrls, stackPorts } from '../stack.js';
import { jaegerUi } from '../trace-waterfall.js';

const STATE_DIR =
  process.env.SIGNUP_FLOW_STATE_DIR ??
  fileURLToPath(new URL('../../../../.local', import.meta.url));
const LOCK_FILE = join(STATE_DIR, 'stack.lock');

interface Lock {
  pid: number;
  startedAt: string;
  api: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running stack's lock, if one is held by a live process. */
export async function runningStack(): Promise<Lock | undefined> {
  if (!existsSync(LOCK_FILE)) return undefined;
  const lock = JSON.parse(await readFile(LOCK_FILE, 'utf8')) as Lock;
  return isAlive(lock.pid) ? lock : undefined;
}

async function takeLock(api: string): Promise<void> {
  await mkdir(STATE_DIR, { recursive: true });
  const lock: Lock = { pid: process.pid, startedAt: new Date().toISOString(), api };
  try {
    await writeFile(LOCK_FILE, JSON.stringify(lock), { flag: 'wx' });
  } catch {
    // A stale lock from a stack that died: replace it.
    await writeFile(LOCK_FILE, JSON.stringify(lock));
  }
}

async function printTable(urls: StackUrls): Promise<void> {
  const traces =
    (await jaegerUi(urls.jaeger)) === 'ui'
      ? urls.jaeger
      : `${urls.jaeger}/api/v3/traces/<trace id>  (placeholder UI: source build; the query API works)`;
  const rows: Array<[string, string]> = [
    ['API (user-service)', urls.api],
    ['Inbox (Mailpit)', urls.inbox],
    ['Traces (Jaeger)', traces],
    [
      'Prometheus (the charts’ alert rules)',
      urls.prometheus ?? 'not installed (apt-get install prometheus)',
    ],
    ['user-service metrics', urls.userServiceMetrics],
    ['messaging-service metrics', urls.messagingServiceMetrics],
    ['PostgreSQL', urls.postgres.replace(/:[^:@/]*@/, ':***@')],
    ['NATS', `${urls.nats}  (user admin, password in ${join(STATE_DIR, 'nats-admin-password')})`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log('');
  for (const [name, url] of rows) console.log(`  ${name.padEnd(width)}  ${url}`);
  console.log('');
  console.log(`  Try it:  curl -i ${urls.api}/v1/users -H 'content-type: application/json' \\`);
  console.log(
    `             -d '{"email":"you@example.com","password":"a long password","name":"You"}'`,
  );
  console.log(`  Logs in ${join(STATE_DIR, 'logs')}; stop with Ctrl-C.`);
  console.log('');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      demo: { type: 'boolean', default: false },
      reset: { type: 'boolean', default: false },
    },
  });

  const running = await runningStack();
  if (running) {
    console.error(
      `signup-flow is already running (pid ${running.pid}, since ${running.startedAt}): its API is at ${running.api}.\n` +
        `Use that one (npm run demo signs a user up against it), or stop it with Ctrl-C in its terminal (or kill ${running.pid}) first.`,
    );
    return 1;
  }
  if (values.reset) {
    await rm(STATE_DIR, { recursive: true, force: true });
    console.log(`▸ state reset (${STATE_DIR} removed)`);
  }

  const ports = stackPorts(process.env);
  await takeLock(`http://127.0.0.1:${ports.userService}`);
  const stack = new LocalStack({
    stateDir: STATE_DIR,
    ports,
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    progress: (line) => console.log(line),
    onCrash: (name, logFile) => {
      console.error(`\n${name} stopped unexpectedly; its log: ${logFile}`);
      process.exitCode = 1;
      stop('SIGTERM');
    },
  });

  let stopping: Promise<void> | undefined;
  let stopSignalledAt = 0;
  function stop(signal: NodeJS.Signals) {
    if (stopping) {
      // One Ctrl-C arrives twice: from the terminal, which signals its whole foreground group,
      // and from npm, which passes it on. Only a later one is the user asking again.
      if (performance.now() - stopSignalledAt > 1_000) console.log('still stopping; one moment…');
      return;
    }
    stopSignalledAt = performance.now();
    console.log(`\n▸ ${signal}: stopping everything…`);
    stopping = stack.stop().then(async () => {
      await rm(LOCK_FILE, { force: true });
      console.log('stopped.');
      process.exit();
    });
  }
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  try {
    const urls = await stack.start();
    console.log('\nsignup-flow is ready: the user-service answers /readyz with 200.');
    await printTable(urls);
    if (values.demo) await runDemo(urls, (line) => console.log(line));
    // The stack runs until a signal stops it; the child processes keep this process alive.
    return 0;
  } catch (error) {
    console.error(`\nnpm start failed: ${error instanceof Error ? error.message : error}`);
    await stack.stop();
    await rm(LOCK_FILE, { force: true });
    return 1;
  }
}

process.exitCode = await main();
