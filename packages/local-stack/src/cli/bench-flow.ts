/**
 * Signup → email benchmark: the whole local stack (`npm start`'s: both services with tracing on,
 * exporting every span to Jaeger; PostgreSQL, NATS JetStream, Mailpit; Prometheus when installed),
 * on free ports in a temporary folder, signed up at a fixed rate (open loop); then, for each
 * signup answered 201, the time from sending it to Mailpit receiving its welcome email.
 *
 *   npm run build && node packages/local-stack/dist/cli/bench-flow.js \
 *     [--rate 50] [--seconds 20] [--summary file.json]
 *
 * `npm run bench` runs it with `--summary` and prints its figures in one table with the others.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { percentile, runLoad } from '../load.js';
import { freePort, waitUntil } from '../ports.js';
import { LocalStack, PORT_VARIABLES, type StackPorts } from '../stack.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    summary: { type: 'string' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);

/** What `npm run bench` reads from the summary file. */
export interface FlowSummary {
  rate: number;
  signups: number;
  emails: number;
  signupToEmailP50Ms: number;
  signupToEmailP99Ms: number;
  signupP99Ms: number;
}

interface MailpitList {
  total: number;
  messages: Array<{ Created: string; To: Array<{ Address: string }> }>;
}

async function mailpitMessages(inbox: string): Promise<MailpitList['messages']> {
  const messages: MailpitList['messages'] = [];
  for (let start = 0; ; start += 1000) {
    const response = await fetch(`${inbox}/api/v1/messages?start=${start}&limit=1000`);
    const page = (await response.json()) as MailpitList;
    messages.push(...page.messages);
    if (page.messages.length === 0 || messages.length >= page.total) return messages;
  }
}

const stateDir = await mkdtemp(join(tmpdir(), 'signup-flow-bench-flow-'));
// As root, PostgreSQL runs as the postgres user, which must be able to reach its folder.
await chmod(stateDir, 0o755);
const ports = {} as StackPorts;
for (const key of Object.keys(PORT_VARIABLES) as Array<keyof StackPorts>) {
  ports[key] = await freePort();
}
let crashed = '';
const stack = new LocalStack({
  stateDir,
  ports,
  progress: (line) => console.log(line),
  onCrash: (name, logFile) => {
    crashed = `${name} exited during the benchmark; its log: ${logFile}`;
  },
});
let failed = false;
try {
  const urls = await stack.start();
  const sentAt = new Map<string, number>();
  console.log(`signing up ${rate}/s for ${seconds} s…`);
  const load = await runLoad({
    api: urls.api,
    rate,
    durationSeconds: seconds,
    report: () => undefined,
    onAnswer: ({ email, sentAtEpochMs, status }) => {
      if (status === 201) sentAt.set(email, sentAtEpochMs);
    },
  });
  let messages: MailpitList['messages'] = [];
  await waitUntil(
    'every welcome email',
    async () => {
      if (crashed) throw new Error(crashed);
      messages = await mailpitMessages(urls.inbox);
      return messages.length >= sentAt.size;
    },
    120_000,
    500,
  );
  const latencies = messages
    .flatMap((message) =>
      message.To.map((to) => Date.parse(message.Created) - (sentAt.get(to.Address) ?? Number.NaN)),
    )
    .filter((latency) => !Number.isNaN(latency))
    .sort((a, b) => a - b);
  const summary: FlowSummary = {
    rate,
    signups: sentAt.size,
    emails: latencies.length,
    signupToEmailP50Ms: percentile(latencies, 0.5),
    signupToEmailP99Ms: percentile(latencies, 0.99),
    signupP99Ms: load.p99Ms,
  };
  console.log(
    `${summary.signups} signups at ${rate}/s (${load.errors} errors, ${load.dropped} dropped; signup p99 ${load.p99Ms.toFixed(0)} ms): signup → email p50 ${summary.signupToEmailP50Ms} ms, p99 ${summary.signupToEmailP99Ms} ms over ${summary.emails} emails`,
  );
  if (values.summary) await writeFile(values.summary, JSON.stringify(summary));
} catch (error) {
  failed = true;
  console.error(`benchmark failed: ${error instanceof Error ? error.message : error}`);
  console.error(`state and logs kept in ${stateDir}`);
  process.exitCode = 1;
} finally {
  await stack.stop();
  if (!failed) await rm(stateDir, { recursive: true, force: true });
}
