// Opaque tokens: 256 random bits, base64url, behind a readable prefix so that a leaked token is
// recognisable (and findable by secret scanners). Only a SHA-256 digest is ever stored.
import { hash, randomBytes } from 'node:crypto';

export const ACCESS_TOKEN_PREFIX = 'tsa_';
export const REFRESH_TOKEN_PREFIX = 'tsr_';
export const CODE_PREFIX = 'tsc_';
export const CLIENT_SECRET_PREFIX = 'tss_';
/** RFC 7591 initial access tokens, and RFC 7592 registration access tokens. */
export const INITIAL_ACCESS_TOKEN_PREFIX = 'tsi_';
export const REGISTRATION_TOKEN_PREFIX = 'tsm_';

const RANDOM_BYTES = 32;
const BODY = /^[A-Za-z0-9_-]{43}$/;

export function newOpaqueToken(prefix: string): string {
  return prefix + randomBytes(RANDOM_BYTES).toString('base64url');
}

/** A cheap shape check that turns away garbage before any lookup. */
export function hasOpaqueShape(token: string, prefix: string): boolean {
  return token.length === prefix.length + 43 && token.startsWith(prefix) && BODY.test(token.slice(prefix.length));
}

export type OpaqueKind = 'access' | 'refresh' | 'code';

/** A Django REST framework key (40 hex characters), imported as an access token by `tessera import django`. */
const DRF_KEY = /^[0-9a-fA-F]{40}$/;

export function isDrfKey(token: string): boolean {
  return token.length === 40 && DRF_KEY.test(token);
}

/** What an opaque token of ours is, by its prefix and shape; null for anything else (a JWT, garbage). */
export function opaqueKind(token: string): OpaqueKind | null {
  if (hasOpaqueShape(token, ACCESS_TOKEN_PREFIX) || isDrfKey(token)) return 'access';
  if (hasOpaqueShape(token, REFRESH_TOKEN_PREFIX)) return 'refresh';
  if (hasOpaqueShape(token, CODE_PREFIX)) return 'code';
  return null;
}

/** SHA-256, hex. The one-shot crypto.hash is a third of createHash's cost on this hot path. */
export function tokenDigest(token: string): string {
  return hash('sha256', token, 'hex');
}

/** A non-secret identifier of an opaque token (its `jti` at introspection and on the revocation stream). */
export function opaqueJti(digest: string): string {
  return digest.slice(0, 32);
}
