import { errors, jwtVerify } from 'jose';
import { InvalidTokenError } from './errors.js';

export interface TokenVerifierOptions {
  /** The current HMAC key, then the one before it while a key is rotated (JWT_SECRET_PREVIOUS). */
  secrets: string[];
  issuer: string;
  audience: string;
}

/** Resolves the user a bearer token was issued to; rejects with {@link InvalidTokenError}. */
export type TokenVerifier = (token: string) => Promise<{ userId: string }>;

/**
 * Verifies HS256 JWTs from {@link createTokenIssuer}: the algorithm is pinned (no `none`, no other
 * algorithm), and so are the issuer and audience; expiry is checked. During a key rotation a token
 * signed with the previous key stays valid until it expires.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const keys = options.secrets.map((secret) => new TextEncoder().encode(secret));
  return async (token) => {
    let lastError: unknown;
    for (const key of keys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ['sub', 'exp'],
        });
        if (typeof payload.sub !== 'string') throw new InvalidTokenError('no subject');
        return { userId: payload.sub };
      } catch (error) {
        lastError = error;
        // Only a signature made with another key is worth trying the next key for.
        if (!(error instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw new InvalidTokenError(describe(lastError), { cause: lastError });
  };
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the token's ${error.claim} is not accepted`;
  return 'the token is not valid';
}
