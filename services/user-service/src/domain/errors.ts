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
