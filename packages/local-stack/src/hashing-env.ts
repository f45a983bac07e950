import { availableParallelism } from 'node:os';

/**
 * How the user-service hashes on this machine, sized as its chart sizes it in a pod (from the CPU
 * limit): a libuv pool of one thread per CPU, and one argon2id hash more than that handed to it at
 * once. On Node's default pool of four threads, each hash goes to whichever idle thread libuv
 * wakes; a pool of one thread per CPU keeps the same threads hashing. The extra hash waits in the
 * pool's queue, holding no memory until a thread takes it (argon2id allocates its 19 MiB when it
 * starts), so a thread that finishes a hash starts the next at once instead of idling until the
 * event loop hands it one. README "Performance" has the figures. A variable already set in the
 * environment wins.
 */
export function userServiceHashingEnv(): {
  UV_THREADPOOL_SIZE: string;
  PASSWORD_HASH_CONCURRENCY: string;
} {
  const cpus = availableParallelism();
  return { UV_THREADPOOL_SIZE: String(cpus), PASSWORD_HASH_CONCURRENCY: String(cpus + 1) };
}
