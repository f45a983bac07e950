import { availableParallelism } from 'node:os';

/**
 * The user-service's libuv threadpool on this machine, sized as its chart sizes it in a pod (from
 * the CPU limit): one thread per CPU, as many as the argon2id hashes it computes at once
 * (PASSWORD_HASH_CONCURRENCY defaults to the CPUs). On Node's default pool of four threads, each
 * hash goes to whichever idle thread libuv wakes; a pool of one thread per hash keeps the same
 * threads hashing, and computed about 10 % more hashes a second on two cores (README
 * "Performance"). A variable already set in the environment wins.
 */
export function userServiceThreadpoolEnv(): { UV_THREADPOOL_SIZE: string } {
  return { UV_THREADPOOL_SIZE: String(availableParallelism()) };
}
