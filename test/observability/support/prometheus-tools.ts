import { spawn } from 'node:child_process';
import { locateProgram } from '../../k8s/support/tools.js';

/** Both come from Debian's `prometheus` package; `.ci/run` installs it. */
export const PROMETHEUS_INSTALL_HINT =
  'install Debian\'s "prometheus" package (apt-get install prometheus), which has prometheus and promtool';
export const prometheusBinary = locateProgram('prometheus');
export const promtoolBinary = locateProgram('promtool');

/**
 * Runs promtool with `input` on its stdin and returns what it printed; rejects with that output
 * when it exits non-zero (its findings are the useful part of a failure).
 */
export function promtool(args: readonly string[], input?: string): Promise<string> {
  const binary = promtoolBinary;
  if (!binary) return Promise.reject(new Error(`promtool not found: ${PROMETHEUS_INSTALL_HINT}`));
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`promtool ${args.join(' ')} exited with ${code}:\n${output}`));
    });
    child.stdin.end(input ?? '');
  });
}
