/**
 * `npm run bench`: both services' benchmarks in turn (services/user-service/bench/signup.ts,
 * services/messaging-service/bench/drain.ts, real processes and servers each) and the whole
 * flow's (bench-flow.ts: the local stack, signup to email), then one table of their figures, each beside the ceiling measured in the same run and the goal it is held to.
 * Benchmarks, not tests: nothing here passes or fails on a speed. `-- --quick` runs each for a
 * few seconds only (the figures then mean little; the test suite uses it to see the table).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { FlowSummary } from './bench-flow.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

interface SignupSummary {
  argon2HashesPerSecond: number;
  runs: Array<{
    tracing: string;
    pacedRate?: number;
    signupsPerSecond: number;
    p99Ms: number;
    commitToPubAckP50Ms: number;
    commitToPubAckP99Ms: number;
    peakRssMiB: number;
    /** Absent where /proc does not say (not Linux). */
    cpuPerSignupMs?: {
      hash: number;
      eventLoop: number;
      serviceOther: number;
      postgres: number;
      nats: number;
      loadGenerator: number;
      /** All of the stack's CPU but the hash's. */
      outsideHash: number;
    };
  }>;
}

interface DrainSummary {
  ceilings: { smtpAcceptsPerSecond: number; jetstreamConsumeAckPerSecond: number };
  results: Array<{
    tracing: string;
    emailsPerSecond: number;
    /** Absent where /proc does not say (not Linux). */
    serviceCpuMsPerEmail?: number;
    /** The Jaeger beside it, on the same cores; absent where /proc does not say. */
    jaegerCpuMsPerEmail?: number;
    peakRssMiB: number[];
  }>;
}

const PACED_RATE = 50;

/** Runs one benchmark with Node 24 (which runs TypeScript), its output prefixed, to its end. */
function runBench(label: string, script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, script), ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = (chunk: Buffer) =>
      process.stdout.write(
        chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((line) => `[${label}] ${line}\n`)
          .join(''),
      );
    child.stdout.on('data', prefix);
    child.stderr.on('data', prefix);
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${script} exited with ${code}`)),
    );
  });
}

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const signupSeconds = values.quick ? '3' : '20';
const backlog = values.quick ? '500' : '10000';

const dir = await mkdtemp(join(tmpdir(), 'signup-flow-bench-'));
try {
  const signupFile = join(dir, 'signup.json');
  const drainFile = join(dir, 'drain.json');
  const flowFile = join(dir, 'flow.json');
  await runBench('signup', 'services/user-service/bench/signup.ts', [
    ...['--concurrency', '16', '--seconds', signupSeconds, '--tracing', 'both'],
    ...['--paced-rate', String(PACED_RATE), '--summary', signupFile],
  ]);
  await runBench('drain', 'services/messaging-service/bench/drain.ts', [
    ...['--events', backlog, '--replicas', '1', '--tracing', 'both', '--summary', drainFile],
  ]);
  await runBench('flow', 'packages/local-stack/dist/cli/bench-flow.js', [
    ...['--rate', String(PACED_RATE), '--seconds', signupSeconds, '--summary', flowFile],
  ]);
  const signup = JSON.parse(await readFile(signupFile, 'utf8')) as SignupSummary;
  const drain = JSON.parse(await readFile(drainFile, 'utf8')) as DrainSummary;
  const flow = JSON.parse(await readFile(flowFile, 'utf8')) as FlowSummary;

  const signupOff = signup.runs.find((run) => run.tracing === 'off' && !run.pacedRate);
  const signupOn = signup.runs.find((run) => run.tracing === 'on' && !run.pacedRate);
  const signupPaced = signup.runs.find((run) => run.pacedRate === PACED_RATE);
  const signupCpu = signupOff?.cpuPerSignupMs;
  const signupCpuOn = signupOn?.cpuPerSignupMs;
  // All the stack's CPU per signup, and the share of it a service that cost nothing but its hash
  // would still leave to the servers and the load generator: the ratio's bound on these cores.
  const stackCpu = signupCpu && signupCpu.hash + signupCpu.outsideHash;
  const withoutService =
    signupCpu && stackCpu && stackCpu - signupCpu.eventLoop - signupCpu.serviceOther;
  const tracingCpu = signupCpu && signupCpuOn && signupCpuOn.outsideHash - signupCpu.outsideHash;
  const drainOff = drain.results.find((run) => run.tracing === 'off');
  const drainOn = drain.results.find((run) => run.tracing === 'on');
  // A figure a benchmark could not measure is absent, or null where JSON wrote a NaN.
  const n = (value: number | null | undefined, digits = 0) =>
    value === undefined || value === null || Number.isNaN(value) ? '—' : value.toFixed(digits);
  const percent = (part: number | undefined, whole: number | undefined) =>
    part === undefined || whole === undefined ? '—' : `${((part / whole) * 100).toFixed(0)} %`;
  const cost = (on: number | undefined, off: number | undefined) =>
    on === undefined || off === undefined ? '—' : `${(((off - on) / off) * 100).toFixed(0)} %`;
  const extra = (on: number | undefined, off: number | undefined) =>
    on === undefined || off === undefined ? '—' : `${(((on - off) / off) * 100).toFixed(0)} %`;

  const rows: Array<[string, string, string, string]> = [
    [
      'signups/s, tracing off (concurrency 16)',
      n(signupOff?.signupsPerSecond, 1),
      `argon2id ${n(signup.argon2HashesPerSecond, 1)} hashes/s → ${percent(signupOff?.signupsPerSecond, signup.argon2HashesPerSecond)}${signupCpu ? `; a service costing only its hash: at most ${percent(signupCpu.hash, withoutService)}` : ''}`,
      '≥ 85 % of argon2id',
    ],
    [
      'signup: CPU per signup outside the hash, tracing off / on (ms)',
      `${n(signupCpu?.outsideHash, 1)} / ${n(signupCpuOn?.outsideHash, 1)}`,
      signupCpu
        ? `the hash ${n(signupCpu.hash, 1)}: ${percent(signupCpu.hash, stackCpu)} of the stack's CPU; tracing costs ${percent(tracingCpu, stackCpu)} more; off: event loop ${n(signupCpu.eventLoop, 1)}, GC and JIT ${n(signupCpu.serviceOther, 1)}, PostgreSQL ${n(signupCpu.postgres, 1)}, NATS ${n(signupCpu.nats, 1)}, load generator ${n(signupCpu.loadGenerator, 1)}`
        : '',
      '≤ 10 %',
    ],
    [
      'signups/s, tracing on',
      n(signupOn?.signupsPerSecond, 1),
      `tracing costs ${cost(signupOn?.signupsPerSecond, signupOff?.signupsPerSecond)}`,
      '≤ 10 %',
    ],
    [
      `commit → PubAck at ${PACED_RATE} signups/s, tracing on, p50 / p99 (ms)`,
      `${n(signupPaced?.commitToPubAckP50Ms, 1)} / ${n(signupPaced?.commitToPubAckP99Ms, 1)}`,
      '',
      'p99 ≤ 20 ms',
    ],
    [
      'commit → PubAck at full load, tracing off, p50 / p99 (ms)',
      `${n(signupOff?.commitToPubAckP50Ms, 1)} / ${n(signupOff?.commitToPubAckP99Ms, 1)}`,
      '',
      '',
    ],
    [
      'user-service peak RSS, tracing off / on (MiB)',
      `${n(signupOff?.peakRssMiB)} / ${n(signupOn?.peakRssMiB)}`,
      '',
      '≤ 170 MiB',
    ],
    [
      `drain emails/s, tracing off (${Number(backlog).toLocaleString('en')}-event backlog)`,
      n(drainOff?.emailsPerSecond),
      `SMTP sink ${n(drain.ceilings.smtpAcceptsPerSecond)}/s; bare JetStream consume+ack ${n(drain.ceilings.jetstreamConsumeAckPerSecond)}/s`,
      '',
    ],
    [
      'drain emails/s, tracing on',
      n(drainOn?.emailsPerSecond),
      `tracing costs ${cost(drainOn?.emailsPerSecond, drainOff?.emailsPerSecond)}`,
      '≤ 10 %',
    ],
    [
      "drain: the service's CPU per email, tracing off / on (ms)",
      `${n(drainOff?.serviceCpuMsPerEmail, 2)} / ${n(drainOn?.serviceCpuMsPerEmail, 2)}`,
      `tracing costs ${extra(drainOn?.serviceCpuMsPerEmail, drainOff?.serviceCpuMsPerEmail)} more; Jaeger, on the same cores, ${n(drainOn?.jaegerCpuMsPerEmail, 2)} ms`,
      '≤ 10 %',
    ],
    [
      'messaging-service peak RSS, tracing off / on (MiB)',
      `${n(drainOff?.peakRssMiB[0])} / ${n(drainOn?.peakRssMiB[0])}`,
      '',
      '≤ 150 MiB',
    ],
    [
      `signup → email at ${PACED_RATE} signups/s, tracing on, p50 / p99 (ms)`,
      `${n(flow.signupToEmailP50Ms)} / ${n(flow.signupToEmailP99Ms)}`,
      `${flow.emails} of ${flow.signups} emails`,
      'p99 ≤ 200 ms',
    ],
  ];
  const widths = [0, 1, 2, 3].map((column) =>
    Math.max(
      ...[['figure', 'value', 'ceiling, same run', 'goal'], ...rows].map(
        (row) => row[column]?.length ?? 0,
      ),
    ),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  console.log('');
  console.log(
    `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
  );
  console.log(line(['figure', 'value', 'ceiling, same run', 'goal']));
  console.log(line(widths.map((width) => '-'.repeat(width))));
  for (const row of rows) console.log(line(row));
} finally {
  await rm(dir, { recursive: true, force: true });
}
