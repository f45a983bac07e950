export interface LoginThrottleLimits {
  /** Failed logins for one account within the window before it is refused for the rest of it. */
  perAccount: number;
  /** Failed logins from one client address within the window (any accounts). */
  perClient: number;
  windowSeconds: number;
}

/** Who is trying: the account asked for and the client's address. */
export interface LoginAttempt {
  email: string;
  clientAddress: string;
}

/**
 * Counts failed logins in PostgreSQL, so every replica sees the same counts, in fixed windows that
 * start at the first failure. An account over its limit is refused until its window ends, whoever
 * asks; a client over its limit is refused for every account. Other accounts and clients go on.
 * An attempt counts as a failure from the moment it is admitted (so concurrent guesses cannot all
 * slip under the limit) until it succeeds.
 */
export interface LoginThrottle {
  /** Counts the attempt; returns the seconds to wait when it is over a limit, else 0. */
  admit(attempt: LoginAttempt): Promise<number>;
  /** The attempt was right: it stops counting, and the account's earlier failures are forgotten. */
  succeeded(attempt: LoginAttempt): Promise<void>;
}
