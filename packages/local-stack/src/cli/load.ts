/**
 * `npm run load`: signs users up against the running `npm start` stack at a fixed rate, so that
 * Prometheus, the dashboards and the signup→email SLI have something to show.
 *
 *   npm run load                               10 signups/s for 60 s
 *   npm run load -- --rate 50 --duration 300
 */
import { parseArgs } from 'node:util';
import { type LoadProgress, runLoad } from '../load.js';
import { stackPorts } from '../stack.js';

const USAGE = 'usage: npm run load -- [--rate <signups per second>] [--duration <seconds>]';

function positive(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    console.error(`--${name} must be a positive number, not ${JSON.stringify(value)}\n${USAGE}`);
    process.exit(2);
  }
  return number;
}

function line(progress: LoadProgress): string {
  return [
    `${progress.elapsedSeconds.toFixed(0).padStart(4)} s`,
    `sent ${progress.sent}`,
    `created ${progress.created}`,
    `errors ${progress.errors}`,
    `${progress.rate.toFixed(1)}/s`,
    `p50 ${progress.p50Ms.toFixed(0)} ms`,
    `p99 ${progress.p99Ms.toFixed(0)} ms`,
  ].join('  ');
}

let values: { rate: string; duration: string };
try {
  ({ values } = parseArgs({
    options: {
      rate: { type: 'string', default: '10' },
      duration: { type: 'string', default: '60' },
    },
  }));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : error}\n${USAGE}`);
  process.exit(2);
}
const rate = positive('rate', values.rate);
const durationSeconds = positive('duration', values.duration);
const api = `http://127.0.0.1:${stackPorts(process.env).userService}`;

const ready = await fetch(`${api}/readyz`).then(
  (response) => response.ok,
  () => false,
);
if (!ready) {
  console.error(`the user-service at ${api} is not ready. Start the stack with npm start.`);
  process.exit(1);
}
console.log(`▸ signing users up at ${api}: ${rate}/s for ${durationSeconds} s`);
const summary = await runLoad({
  api,
  rate,
  durationSeconds,
  report: (progress) => console.log(`  ${line(progress)}`),
});
console.log(`\ndone: ${line(summary)}  dropped ${summary.dropped}`);
if (summary.errors > 0) console.log(`errors by status: ${JSON.stringify(summary.errorsByStatus)}`);
console.log(
  'Watch it in Prometheus and the inbox; the SLI is signupflow_signup_to_email_latency_seconds.',
);
process.exitCode = summary.errors > 0 ? 1 : 0;
