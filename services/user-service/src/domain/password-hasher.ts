import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

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

export async function createPasswordHasher(): Promise<PasswordHasher> {
  const dummyHash = await hash(randomBytes(32).toString('hex'), ARGON2ID_PARAMETERS);
  return {
    hash: (password) => hash(password, ARGON2ID_PARAMETERS),
    verify: (passwordHash, password) => verify(passwordHash, password).catch(() => false),
    async verifyNothing(password) {
      await verify(dummyHash, password).catch(() => false);
      return false;
    },
  };
}
