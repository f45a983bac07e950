import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';

export interface TokenIssuerOptions {
  /** HMAC key; at least 32 bytes. */
  secret: string;
  /** Sent as the JWT `kid`, so verifiers can hold old and new keys while a key is rotated. */
  keyId: string;
  issuer: string;
  /** Who the token is for (`aud`); the verifier accepts only this. */
  audience: string;
  ttlSeconds: number;
}

export interface IssuedToken {
  token: string;
  expiresAt: string;
}

export type TokenIssuer = (userId: string) => Promise<IssuedToken>;

/** Signs HS256 JWTs with `sub` = user id. */
export function createTokenIssuer(options: TokenIssuerOptions): TokenIssuer {
  const key = new TextEncoder().encode(options.secret);
  return async (userId) => {
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + options.ttlSeconds;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: options.keyId })
      .setSubject(userId)
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(randomBytes(16).toString('hex'))
      .sign(key);
    return { token, expiresAt: new Date(expiresAt * 1000).toISOString() };
  };
}
