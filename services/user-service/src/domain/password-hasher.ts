import { randomBytes } from 'node:crypto';
import * as argon2 from '@node-rs/argon2';
import pLimit from 'p-limit';

/**
 * argon2id with OWASP's recommended minimum (Password Storage Cheat Sheet): 19 MiB of memory,
 * 2 iterations, 1 lane. The parameters travel inside each hash, so raising them later keeps old
 * hashes verifiable. The algorithm is the binding's default, argon2id (its `Algorithm` is an
 * ambient const enum, which isolated modules cannot import); a test pins it.
 */
export const ARGON2ID_PARAMETERS = {
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /**
   * Verifies against a hash no password matches, with the same cost as a real check, so that an
   * unknown email cannot be told apart from a wrong password by timing.
   */
  verifyNothing(password: string): Promise<false>;
}

/** The two argon2id calls the hasher makes (the binding's; a unit test counts them in flight). */
export type Argon2 = Pick<typeof argon2, 'hash' | 'verify'>;

/**
 * At most `concurrency` hashes run at once; the rest wait in line without memory of their own.
 * Unbounded, every request in flight would take a libuv thread (four by default, whatever the
 * CPUs): on two cores four hashes and the event loop fight over the CPU, and each hash holds its
 * 19 MiB until it ends.
 */
export async function createPasswordHasher(
  concurrency: number,
  { hash, verify }: Argon2 = argon2,
): Promise<PasswordHasher> {
  const limited = pLimit(concurrency);
  const dummyHash = await hash(randomBytes(32).toString('hex'), ARGON2ID_PARAMETERS);
  return {
    hash: (password) => limited(() => hash(password, ARGON2ID_PARAMETERS)),
    verify: (passwordHash, password) =>
      limited(() => verify(passwordHash, password)).catch(() => false),
    async verifyNothing(password) {
      await limited(() => verify(dummyHash, password)).catch(() => false);
      return false;
    },
  };
}
