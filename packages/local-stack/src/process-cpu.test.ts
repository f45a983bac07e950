import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startCpuAccount } from './process-cpu.js';

/** Burns `ms` of this process's CPU time, however long the machine takes to give it. */
function spin(ms: number): void {
  const start = process.cpuUsage();
  const usedMs = () => {
    const { user, system } = process.cpuUsage(start);
    return (user + system) / 1000;
  };
  while (usedMs() < ms);
}

describe.runIf(process.platform === 'linux')('startCpuAccount', () => {
  it('when a service spins on its event loop and a hash pool thread, then each is counted where it ran', async () => {
    // The "service": 400 ms on its main thread, then one pbkdf2 on its libuv pool, then it waits
    // to be read.
    const service = spawn(
      process.execPath,
      [
        '-e',
        `process.stdin.once('data', () => {
           (${spin.toString()})(400);
           require('node:crypto').pbkdf2('password', 'salt', 2_000_000, 32, 'sha256', () => {
             process.stdout.write('done\\n');
           });
         });
         process.stdin.once('end', () => process.exit(0));`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      const pid = service.pid ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 200));
      const account = startCpuAccount(pid);
      service.stdin.write('go\n');
      await once(service.stdout, 'data');
      spin(200);
      const used = account();

      // /proc counts in ticks of 10 ms, per field and thread: a few ticks' slack.
      expect(used.eventLoop).toBeGreaterThanOrEqual(0.3);
      expect(used.libuvPool).toBeGreaterThan(0.05);
      expect(used.bench).toBeGreaterThanOrEqual(0.15);
      expect(used.postgres + used.nats + used.jaeger + used.mailpit).toBe(0);
      // The machine's busy time holds all of it (and whatever else ran meanwhile).
      expect(used.machine?.busySeconds).toBeGreaterThanOrEqual(
        used.eventLoop + used.libuvPool + used.bench - 0.05,
      );
    } finally {
      service.stdin.end();
      await once(service, 'exit');
    }
  }, 60_000);
});
