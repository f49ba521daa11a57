// The records Tessera keeps, as every layer sees them. Types only: the store produces them, the
// domain, token and HTTP layers read them, and none of those need to import the store for that.
import type { JSONWebKeySet } from 'jose';

export interface UserRecord {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  emailVerified: boolean;
  passwordHash: string;
  active: boolean;
  roles: string[];
  groups: string[];
  /** "Revoke everything this user holds": any access token issued at or before this instant is dead. */
  tokensValidAfter: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type TokenFormat = 'opaque' | 'jwt';

export interface ClientRecord {
  id: string;
  name: string;
  /** Keyed digest of the secret; null for a public client and for one with keys (`jwks`, `jwksUri`). */
  secretDigest: string | null;
  grants: string[];
  scopes: string[];
  redirectUris: string[];
  /** Origins allowed for browser requests besides those of the redirect URIs. */
  origins: string[];
  /** OpenID Connect RP-Initiated Logout: where /logout may send the browser back, compared exactly. */
  postLogoutRedirectUris: string[];
  /** Third-party: the user approves its scopes on a consent page, once (remembered per client). */
  consent: boolean;
  tokenFormat: TokenFormat;
  accessTtl: number;
  refreshTtl: number;
  /** Absolute lifetime of a refresh family, in seconds from its sign-in. */
  maxSession: number;
  audience: string | null;
  canIntrospect: boolean;
  browser: boolean;
  /**
   * RFC 7523 private_key_jwt: the client's public keys, registered inline or fetched from
   * `jwksUri` (at most one of the two). A client with keys has no secret.
   */
  jwks: JSONWebKeySet | null;
  jwksUri: string | null;
  /** May ask for the scope `tessera:admin`: its tokens open the admin API. */
  admin: boolean;
  /** After a rotation with a grace period: the previous secret's digest, valid until the instant given. */
  previousSecretDigest: string | null;
  previousSecretExpiresAt: Date | null;
  /** "End every token of this client": any access token issued at or before this instant is dead. */
  tokensValidAfter: Date | null;
  /** RFC 7592: digest of the registration access token, for a client registered at /register. */
  registrationTokenDigest: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One authorization (a sign-in): the family of refresh tokens that rotate from it. */
export interface GrantRecord {
  id: string;
  clientId: string;
  userId: string;
  scope: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  /** The browser session (SessionRecord.id) whose sign-in started the grant; logout ends the grant. */
  sessionId: string | null;
  /** When the user signed in (OpenID Connect auth_time); null for grants without a browser sign-in. */
  authTime: Date | null;
}

export interface RefreshTokenRecord {
  digest: string;
  grantId: string;
  parentDigest: string | null;
  scope: string;
  createdAt: Date;
  expiresAt: Date;
  consumedAt: Date | null;
  revokedAt: Date | null;
  grant: GrantRecord;
}

export interface AccessTokenRecord {
  digest: string;
  clientId: string;
  userId: string | null;
  grantId: string | null;
  scope: string;
  issuedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

export type NewAccessToken = Omit<AccessTokenRecord, 'revokedAt'>;

export interface NewRefreshToken {
  digest: string;
  parentDigest: string | null;
  scope: string;
  expiresAt: Date;
}

export interface AuthorizationCodeRecord {
  digest: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string;
  codeChallengeMethod: string;
  expiresAt: Date;
  consumedAt: Date | null;
  /** The grant the code was exchanged for, so that a second use can revoke it. */
  grantId: string | null;
  /** OpenID Connect: the authorization request's nonce, echoed in the ID token. */
  nonce: string | null;
  /** When the user signed in (auth_time), and under which browser session (sid). */
  authTime: Date | null;
  sessionId: string | null;
}

export type NewAuthorizationCode = Omit<AuthorizationCodeRecord, 'consumedAt' | 'grantId'>;

/**
 * A browser's single sign-on session (cookie tessera_session: a random value, stored as its
 * SHA-256 `digest`). Live while not ended, before `expiresAt` (absolute) and used within the idle
 * lifetime of `lastSeenAt`.
 */
export interface SessionRecord {
  /** The public id: the `sid` claim of ID tokens. Never the cookie's value. */
  id: string;
  digest: string;
  userId: string;
  authTime: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  endedAt: Date | null;
}

/** A user's approval of a third-party client's scopes; it covers any subset of them. */
export interface ConsentRecord {
  userId: string;
  clientId: string;
  scopes: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  publicJwk: string;
  privateKeyEnc: string;
  createdAt: Date;
  retiredAt: Date | null;
  publishUntil: Date | null;
}

/** One entry of the audit log: who changed what, when. `details` never holds a secret. */
export interface AuditRecord {
  id: number;
  at: Date;
  /** The admin client's id, `cli:<os user>`, or `register:<client_id>` for dynamic registration. */
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

/** An RFC 7591 initial access token, by its digest. */
export interface InitialAccessTokenRecord {
  digest: string;
  createdAt: Date;
  expiresAt: Date;
  maxUses: number | null;
  uses: number;
}

/** A page of a list: the items and the cursor of the next page (null on the last). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
