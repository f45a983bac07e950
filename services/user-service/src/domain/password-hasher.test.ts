import { describe, expect, it } from 'vitest';
import { ARGON2ID_PARAMETERS, type Argon2, createPasswordHasher } from './password-hasher.js';

/** An argon2 whose calls finish only when the test says, counting how many run at once. */
function heldArgon2() {
  let inFlight = 0;
  let mostInFlight = 0;
  const held: Array<() => void> = [];
  const call = <T>(result: T) => {
    inFlight += 1;
    mostInFlight = Math.max(mostInFlight, inFlight);
    return new Promise<T>((resolve) => {
      held.push(() => {
        inFlight -= 1;
        resolve(result);
      });
    });
  };
  const argon2: Argon2 = {
    hash: () => call('$argon2id$fake'),
    verify: () => call(true),
  };
  return {
    argon2,
    mostInFlight: () => mostInFlight,
    waiting: () => held.length,
    /** Lets the calls started so far finish, then lets the next ones start. */
    async releaseAll() {
      for (const release of held.splice(0)) release();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('createPasswordHasher', () => {
  it('when more hashes and checks are asked for than its concurrency, then only that many run at once and every one completes', async () => {
    const fake = heldArgon2();
    const starting = createPasswordHasher(2, fake.argon2);
    await fake.releaseAll(); // the dummy hash made at start
    const hasher = await starting;

    const results = Promise.all([
      hasher.hash('one'),
      hasher.hash('two'),
      hasher.verify('$argon2id$fake', 'three'),
      hasher.verifyNothing('four'),
      hasher.hash('five'),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(fake.waiting()).toBe(2);
    while (fake.waiting() > 0) await fake.releaseAll();

    expect(await results).toEqual([
      '$argon2id$fake',
      '$argon2id$fake',
      true,
      false,
      '$argon2id$fake',
    ]);
    expect(fake.mostInFlight()).toBe(2);
  });

  it('when given the real binding, then it hashes with argon2id and the OWASP parameters, and verifies', async () => {
    const hasher = await createPasswordHasher(1);
    const hashed = await hasher.hash('a password');
    expect(hashed).toMatch(
      new RegExp(
        `^\\$argon2id\\$v=19\\$m=${ARGON2ID_PARAMETERS.memoryCost},t=${ARGON2ID_PARAMETERS.timeCost},p=${ARGON2ID_PARAMETERS.parallelism}\\$`,
      ),
    );
    expect(await hasher.verify(hashed, 'a password')).toBe(true);
    expect(await hasher.verify(hashed, 'another')).toBe(false);
  });
});
