/**
 * `npm run bench` (README, "Performance"): every benchmark runs and one table comes out with every
 * figure beside its ceiling and goal. Nothing here checks a speed: this machine is shared.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('..', import.meta.url));

describe('npm run bench', () => {
  it('when run (quick), then it prints one table of every figure with its same-run ceiling and its goal', () => {
    const result = spawnSync('npm', ['run', 'bench', '--', '--quick'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 600_000,
    });
    const output = `${result.stdout}${result.stderr}`;
    expect(result.status, output).toBe(0);
    const table = output.split('\n').filter((line) => line.startsWith('| '));
    expect(table[0]).toMatch(/^\| figure +\| value +\| ceiling, same run +\| goal +\|$/);
    const rows = table.slice(2).map((line) => line.split('|').map((cell) => cell.trim()));
    expect(rows.map((row) => row[1])).toEqual([
      'signups/s, tracing off (concurrency 16)',
      'signup: CPU per signup outside the hash, tracing off / on (ms)',
      'signups/s, tracing on',
      'commit → PubAck at 50 signups/s, tracing on, p50 / p99 (ms)',
      'commit → PubAck at full load, tracing off, p50 / p99 (ms)',
      'user-service peak RSS, tracing off / on (MiB)',
      'drain emails/s, tracing off (500-event backlog)',
      'drain emails/s, tracing on',
      "drain: the service's CPU per email, tracing off / on (ms)",
      'messaging-service peak RSS, tracing off / on (MiB)',
      'signup → email at 50 signups/s, tracing on, p50 / p99 (ms)',
    ]);
    // Every figure was measured: a number (or two), and each ceiling in this same run.
    for (const row of rows) expect(row[2], row[1]).toMatch(/^\d+(\.\d+)?( \/ \d+(\.\d+)?)?$/);
    // Beside it, the bound the servers' and the load generator's CPU alone put on that ratio.
    expect(rows[0]?.[3]).toMatch(
      /^argon2id \d+(\.\d+)? hashes\/s → \d+ %; a service costing only its hash: at most \d+ %$/,
    );
    // Where signup's CPU went, every process and thread read from /proc: measured, not NaN.
    expect(rows[1]?.[3]).toMatch(
      /^the hash \d+\.\d: \d+ % of the stack's CPU; tracing costs -?\d+ % more; off: event loop \d+\.\d, GC and JIT \d+\.\d, PostgreSQL \d+\.\d, NATS \d+\.\d, load generator \d+\.\d$/,
    );
    // The service's own CPU, read from /proc: measured, not NaN.
    expect(rows[8]?.[3]).toMatch(
      /^tracing costs -?\d+ % more; Jaeger, on the same cores, \d+\.\d\d ms$/,
    );
    expect(rows[10]?.[3]).toMatch(/^(\d+) of \1 emails$/);
    expect(rows[6]?.[3]).toMatch(/^SMTP sink \d+\/s; bare JetStream consume\+ack \d+\/s$/);
    expect(output).toMatch(/^machine: \d+ cores/m);
  }, 660_000);

  it('when a service benchmark is given --cpu-prof, then the service leaves a V8 CPU profile of its run there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'signup-flow-cpu-prof-'));
    try {
      const result = spawnSync(
        process.execPath,
        [
          'services/user-service/bench/signup.ts',
          ...['--seconds', '1', '--concurrency', '2', '--tracing', 'off', '--cpu-prof', dir],
        ],
        { cwd: REPO, encoding: 'utf8', timeout: 120_000 },
      );
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
      const folder = join(dir, 'user-service-tracing_off');
      const profiles = readdirSync(folder).filter((name) => name.endsWith('.cpuprofile'));
      expect(profiles.length).toBeGreaterThan(0);
      const profile = JSON.parse(readFileSync(join(folder, profiles[0] ?? ''), 'utf8')) as {
        nodes: Array<{ callFrame: { url: string } }>;
        samples: number[];
      };
      expect(profile.samples.length).toBeGreaterThan(0);
      expect(profile.nodes.some((node) => node.callFrame.url.includes('user-service/dist/'))).toBe(
        true,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
