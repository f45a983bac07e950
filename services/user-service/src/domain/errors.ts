/** The email is already registered (compared case-insensitively). */
export class EmailTakenError extends Error {
  override readonly name = 'EmailTakenError';
}

/** Unknown email or wrong password: deliberately indistinguishable. */
export class InvalidCredentialsError extends Error {
  override readonly name = 'InvalidCredentialsError';
}

export class UserNotFoundError extends Error {
  override readonly name = 'UserNotFoundError';
}

/** A bearer token that is missing, malformed, expired, or not signed by us for this audience. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/** Too many failed logins for the account or from the client: try again after the wait. */
export class TooManyLoginFailuresError extends Error {
  override readonly name = 'TooManyLoginFailuresError';
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed logins; retry in ${retryAfterSeconds} s`);
  }
}
