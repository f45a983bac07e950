import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type LoadProgress, percentile, runLoad } from './load.js';
import { freePort } from './ports.js';

const LOAD_CLI = fileURLToPath(new URL('../dist/cli/load.js', import.meta.url));
const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A stand-in for the user-service: every fifth signup fails with 500. */
async function fakeApi(): Promise<{ url: string; emails: string[] }> {
  const emails: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      emails.push((JSON.parse(body) as { email: string }).email);
      response.statusCode = emails.length % 5 === 0 ? 500 : 201;
      response.end('{}');
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, emails };
}

describe('runLoad', () => {
  it('when run at a rate for a duration, then it sends rate × duration signups with distinct emails and counts the answers', async () => {
    const api = await fakeApi();
    const reports: LoadProgress[] = [];
    const summary = await runLoad({
      api: api.url,
      rate: 40,
      durationSeconds: 2,
      report: (progress) => reports.push(progress),
    });

    expect(summary).toMatchObject({ sent: 80, created: 64, errors: 16, dropped: 0 });
    expect(summary.errorsByStatus).toEqual({ '500': 16 });
    expect(new Set(api.emails).size).toBe(80);
    expect(summary.p99Ms).toBeGreaterThanOrEqual(summary.p50Ms);
    // Live progress at least once a second, and the summary last.
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports.at(-1)).toEqual(summary);
  });

  it('when nothing listens, then every signup counts as a network error', async () => {
    const summary = await runLoad({
      api: `http://127.0.0.1:${await freePort()}`,
      rate: 20,
      durationSeconds: 0.5,
      report: () => undefined,
    });
    expect(summary).toMatchObject({ sent: 10, created: 0, errors: 10 });
    expect(summary.errorsByStatus).toEqual({ network: 10 });
  });
});

describe('npm run load (the command line)', () => {
  it.each([
    [['--rate', '0'], /--rate must be a positive number/],
    [['--duration', 'soon'], /--duration must be a positive number/],
    [['--speed', '9'], /Unknown option '--speed'/],
  ])('when given %j, then it exits 2 with the reason and the usage', (args, reason) => {
    const run = spawnSync(process.execPath, [LOAD_CLI, ...args], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(reason);
    expect(run.stderr).toContain('usage: npm run load');
  });

  it('when the stack is not running, then it says so and exits 1', async () => {
    const run = spawnSync(process.execPath, [LOAD_CLI, '--duration', '1'], {
      encoding: 'utf8',
      env: { ...process.env, USER_SERVICE_PORT: String(await freePort()) },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/is not ready\. Start the stack with npm start/);
  });
});

describe('percentile', () => {
  it('when given ascending values, then it is the nearest-rank percentile, and NaN of none', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([0.5, 0.99, 1].map((fraction) => percentile(hundred, fraction))).toEqual([50, 99, 100]);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([1, 2, 3], 0)).toBe(1);
    expect(percentile([], 0.5)).toBeNaN();
  });
});
