import { InvalidCredentialsError, TooManyLoginFailuresError } from './errors.js';
import type { LoginThrottle } from './login-throttle.js';
import type { PasswordHasher } from './password-hasher.js';
import type { IssuedToken, TokenIssuer } from './token-issuer.js';
import type { Credentials } from './user.js';
import type { UserStore } from './user-store.js';

export interface LogInDeps {
  users: UserStore;
  hasher: PasswordHasher;
  issueToken: TokenIssuer;
  loginThrottle: LoginThrottle;
}

/**
 * Issues a token for valid credentials. Unknown email and wrong password cost the same work and
 * count the same towards the throttle; an attempt over its limit is refused before any password
 * work.
 */
export async function logIn(
  deps: LogInDeps,
  credentials: Credentials,
  clientAddress: string,
): Promise<IssuedToken> {
  const attempt = { email: credentials.email, clientAddress };
  const retryAfter = await deps.loginThrottle.admit(attempt);
  if (retryAfter > 0) throw new TooManyLoginFailuresError(retryAfter);
  const user = await deps.users.findByEmail(credentials.email);
  const valid = user
    ? await deps.hasher.verify(user.passwordHash, credentials.password)
    : await deps.hasher.verifyNothing(credentials.password);
  if (!user || !valid) throw new InvalidCredentialsError('invalid email or password');
  await deps.loginThrottle.succeeded(attempt);
  return deps.issueToken(user.id);
}
