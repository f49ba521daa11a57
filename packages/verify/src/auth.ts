// What verify() answers: the token's subject, client, scopes and the rest, from a JWT's claims or an
// introspection answer alike (RFC 9068 and RFC 7662 name them the same).
import { TokenError } from './errors.js';
import { scopeList } from './scopes.js';

export interface Auth {
  /** The user's id, or the client_id for a client's own token (client_credentials). */
  readonly sub: string;
  readonly client_id: string;
  readonly scope: readonly string[];
  readonly aud: string | readonly string[];
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  readonly token_type: 'Bearer';
  readonly roles?: readonly string[];
  readonly groups?: readonly string[];
  /** Every claim as the server stated it: the JWT's payload, or the introspection answer. */
  readonly claims: Readonly<Record<string, unknown>>;
}

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** The answer for these claims (frozen: one answer is shared by every caller of a cached token). */
export function authFromClaims(claims: Record<string, unknown>, realm: string | undefined): Auth {
  const { sub, client_id, scope, aud, exp, roles, groups } = claims;
  const wellFormed =
    typeof sub === 'string' &&
    typeof client_id === 'string' &&
    typeof exp === 'number' &&
    (typeof aud === 'string' || isStringArray(aud)) &&
    (scope === undefined || typeof scope === 'string') &&
    (roles === undefined || isStringArray(roles)) &&
    (groups === undefined || isStringArray(groups));
  if (!wellFormed) throw new TokenError('invalid_token', 'The token lacks a claim or has one of the wrong type', { realm });
  return Object.freeze({
    sub,
    client_id,
    scope: Object.freeze(scopeList(scope)),
    aud: typeof aud === 'string' ? aud : Object.freeze(aud),
    exp,
    token_type: 'Bearer',
    ...(roles === undefined ? {} : { roles: Object.freeze(roles) }),
    ...(groups === undefined ? {} : { groups: Object.freeze(groups) }),
    claims: Object.freeze(claims),
  });
}
