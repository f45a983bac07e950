/**
 * Runs one server process and guarantees it does not outlive whoever started it.
 *
 *   node supervisor.js <stop-signal> <command> [args…]
 *
 * The parent holds this process's stdin open; when the parent dies, even by SIGKILL, stdin
 * reaches end-of-file and the server is stopped. SIGTERM and SIGINT stop the server with its own
 * stop signal; SIGUSR1 kills it outright (a simulated crash).
 */
import { spawn } from 'node:child_process';

const [stopSignal, command, ...args] = process.argv.slice(2);
if (!stopSignal || !command) {
  process.stderr.write('usage: supervisor <stop-signal> <command> [args…]\n');
  process.exit(2);
}

const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = () => child.kill(stopSignal as NodeJS.Signals);

process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGUSR1', () => child.kill('SIGKILL'));
child.on('error', (error) => {
  process.stderr.write(`supervisor: cannot start ${command}: ${error.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 128 : 1));
});
