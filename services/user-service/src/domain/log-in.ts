import type { Knex } from 'knex';
import { findUserByEmail } from '../data/users-repository.js';
import { InvalidCredentialsError } from './errors.js';
import type { PasswordHasher } from './password-hasher.js';
import type { IssuedToken, TokenIssuer } from './token-issuer.js';
import type { Credentials } from './user.js';

export interface LogInDeps {
  db: Knex;
  hasher: PasswordHasher;
  issueToken: TokenIssuer;
}

/** Issues a token for valid credentials. Unknown email and wrong password cost the same work. */
export async function logIn(deps: LogInDeps, credentials: Credentials): Promise<IssuedToken> {
  const user = await findUserByEmail(deps.db, credentials.email);
  const valid = user
    ? await deps.hasher.verify(user.passwordHash, credentials.password)
    : await deps.hasher.verifyNothing(credentials.password);
  if (!user || !valid) throw new InvalidCredentialsError('invalid email or password');
  return deps.issueToken(user.id);
}
