// JWT access tokens per RFC 9068: header typ "at+jwt", ES256, kid; claims iss, sub, aud, exp,
// iat, jti, client_id, scope, sid (the grant a user token was issued under, so that revoking
// the grant revokes the token too), and the user's roles and groups as they were at issue.
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, decodeProtectedHeader, errors } from 'jose';
import type { KeyRing } from './keys.js';
import { SIGNING_ALG } from './keys.js';

export const JWT_TYP = 'at+jwt';

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  iat: number;
  exp: number;
  jti: string;
  sid?: string;
  /** RFC 9068 §2.2.3.1; each only when the user has some. */
  roles?: string[];
  groups?: string[];
}

export async function signAccessToken(ring: KeyRing, claims: Omit<AccessTokenClaims, 'jti'>): Promise<string> {
  const { kid, key } = ring.signingKey();
  return new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: SIGNING_ALG, typ: JWT_TYP, kid }).sign(key);
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_JWT_LENGTH = 4096;

export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_JWT_LENGTH && JWT_SHAPE.test(token);
}

/**
 * Verifies signature (only our own published keys, only ES256), typ, issuer and time claims.
 * Anything wrong — malformed, alg none, foreign key, expired, not yet valid — is simply null.
 */
export async function verifyAccessToken(ring: KeyRing, token: string, issuer: string): Promise<AccessTokenClaims | null> {
  if (!looksLikeJwt(token)) return null;
  try {
    const { kid } = decodeProtectedHeader(token);
    const key = typeof kid === 'string' ? ring.verifyKey(kid) : undefined;
    if (!key) return null;
    const { payload } = await jwtVerify(token, key, {
      issuer,
      typ: JWT_TYP,
      algorithms: [SIGNING_ALG],
      requiredClaims: ['sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
    });
    if (typeof payload.client_id !== 'string' || typeof payload.jti !== 'string' || typeof payload.sub !== 'string') return null;
    // Tessera gives every token one audience (the client's); /token/verify compares and returns it.
    if (typeof payload.aud !== 'string') return null;
    if (payload.scope !== undefined && typeof payload.scope !== 'string') return null;
    if (payload.sid !== undefined && typeof payload.sid !== 'string') return null;
    return payload as unknown as AccessTokenClaims;
  } catch (error) {
    if (error instanceof errors.JOSEError || error instanceof TypeError || error instanceof SyntaxError) return null;
    throw error;
  }
}
