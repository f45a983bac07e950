/**
 * Prints the argon2id hashes/s this process computes with the user-service's parameters, keeping
 * `--in-flight` hashes at a time for `--ms` milliseconds. signup.ts runs it as a child process so
 * that each measurement gets the libuv threadpool size under test (UV_THREADPOOL_SIZE is read
 * once, when a process first uses its pool).
 *
 *   node services/user-service/bench/argon2-rate.ts --in-flight 2 --ms 5000
 */
import { parseArgs } from 'node:util';
import { hash } from '@node-rs/argon2';
import { ARGON2ID_PARAMETERS } from '../dist/domain/password-hasher.js';

const { values } = parseArgs({
  options: {
    'in-flight': { type: 'string', default: '2' },
    ms: { type: 'string', default: '5000' },
  },
});
const inFlight = Number(values['in-flight']);
const durationMs = Number(values.ms);
if (!(Number.isInteger(inFlight) && inFlight > 0 && durationMs > 0)) {
  throw new Error('--in-flight takes a positive integer and --ms a positive number');
}

const deadline = Date.now() + durationMs;
let hashes = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (Date.now() < deadline) {
      await hash('benchmark password', ARGON2ID_PARAMETERS);
      hashes += 1;
    }
  }),
);
console.log(hashes / (durationMs / 1000));
