// The life of a grant's tokens, for the grant handlers and the sign-in page: issue an access
// token on its own, start a grant (a sign-in's first refresh and access tokens), rotate a refresh
// token, revoke a family when a token is reused, and issue and consume authorization codes.
// Everything a grant writes is committed before its tokens are handed out.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuthorizationCodeRecord, ClientRecord, NewAuthorizationCode, RefreshTokenRecord } from '../records.js';
import type { CodeStore } from '../store/codes.js';
import type { TokenStore } from '../store/tokens.js';
import type { MintedAccessToken, TokenMinter, TokenUser } from './minter.js';
import { CODE_PREFIX, REFRESH_TOKEN_PREFIX, hasOpaqueShape, newOpaqueToken, tokenDigest } from './opaque.js';

/** A browser sign-in a grant comes from: its session (OpenID Connect `sid`) and when it happened (`auth_time`). */
export interface SignIn {
  sessionId: string | null;
  authTime: Date;
}

/** A code to issue: the OpenID Connect fields are absent outside a browser sign-in. */
export type CodeRequest = Omit<NewAuthorizationCode, 'digest' | 'expiresAt' | 'nonce' | 'authTime' | 'sessionId'> &
  Partial<Pick<NewAuthorizationCode, 'nonce' | 'authTime' | 'sessionId'>>;

/**
 * An access token, and with a refresh token always the family (grant) it belongs to and its user;
 * an OpenID Connect ID token when the grant's scope holds `openid` (src/oauth/grants/).
 */
export type IssuedTokens = { accessToken: string; expiresAt: Date; scope: string; idToken?: string } & (
  { refreshToken?: undefined; grantId?: undefined; userId?: undefined } | { refreshToken: string; grantId: string; userId: string }
);

/**
 * Whether a refresh token may be used now. `reused`: it was used before, so whoever presents it
 * again may have stolen it, and its family must end (RFC 9700 §4.14.2).
 */
export type RefreshTokenState = 'usable' | 'reused' | 'revoked' | 'expired';

export function refreshTokenState(record: RefreshTokenRecord, now = Date.now()): RefreshTokenState {
  if (record.consumedAt) return 'reused';
  if (record.revokedAt || record.grant.revokedAt) return 'revoked';
  return record.expiresAt.getTime() <= now ? 'expired' : 'usable';
}

export class TokenLifecycle {
  constructor(
    private readonly tokens: TokenStore,
    private readonly codes: CodeStore,
    private readonly minter: TokenMinter,
    private readonly log: Logger,
    private readonly codeTtlSeconds: number,
  ) {}

  /** An access token alone, outside any grant (client_credentials, admin tokens); stored when opaque. */
  async issueAccessToken(client: ClientRecord, user: TokenUser | null, scope: string, ttlSeconds?: number): Promise<MintedAccessToken> {
    const minted = await this.minter.mintAccessToken({ client, user, scope, grantId: null, ttlSeconds });
    if (minted.record) await this.tokens.saveAccessToken(minted.record);
    return minted;
  }

  /** A sign-in: a new grant with its first refresh token and access token, committed together. */
  async startGrant(
    client: ClientRecord,
    user: TokenUser,
    scope: string,
    grantId: string = randomUUID(),
    signIn: SignIn | null = null,
  ): Promise<IssuedTokens> {
    const userId = user.id;
    const access = await this.minter.mintAccessToken({ client, user, scope, grantId });
    const refresh = this.minter.mintRefreshToken();
    const refreshExpiresAt = this.refreshExpiry(client, new Date());
    await this.tokens.startGrant(
      {
        id: grantId,
        clientId: client.id,
        userId,
        scope,
        expiresAt: latest(refreshExpiresAt, access.expiresAt),
        sessionId: signIn?.sessionId ?? null,
        authTime: signIn?.authTime ?? null,
      },
      { digest: refresh.digest, parentDigest: null, scope, expiresAt: refreshExpiresAt },
      access.record,
    );
    return { accessToken: access.token, expiresAt: access.expiresAt, scope, refreshToken: refresh.token, grantId, userId };
  }

  /**
   * Uses `used` up and issues its successor and an access token for `scope` (at most the family's).
   * The successor keeps the scope its family was granted; only the access token narrows. Of
   * concurrent rotations of one token exactly one wins; for the others the family is revoked and
   * the answer is null. `user` is the family's user (`used.grant.userId`) as they are now: their
   * current roles and groups go into a JWT.
   */
  async rotate(client: ClientRecord, used: RefreshTokenRecord, scope: string, user: TokenUser): Promise<IssuedTokens | null> {
    const access = await this.minter.mintAccessToken({ client, user, scope, grantId: used.grantId });
    const refresh = this.minter.mintRefreshToken();
    const refreshExpiresAt = this.refreshExpiry(client, used.grant.createdAt);
    const won = await this.tokens.rotate({
      usedDigest: used.digest,
      grantId: used.grantId,
      next: { digest: refresh.digest, scope: used.scope, expiresAt: refreshExpiresAt },
      access: access.record,
      grantExpiresAt: latest(refreshExpiresAt, access.expiresAt),
    });
    if (!won) {
      await this.revokeFamily(used.grantId, used.grant.clientId, 'refresh token used concurrently');
      return null;
    }
    return {
      accessToken: access.token,
      expiresAt: access.expiresAt,
      scope,
      refreshToken: refresh.token,
      grantId: used.grantId,
      userId: used.grant.userId,
    };
  }

  /** The refresh token record, or null when `token` is not one of ours. */
  async findRefreshToken(token: string): Promise<RefreshTokenRecord | null> {
    return hasOpaqueShape(token, REFRESH_TOKEN_PREFIX) ? this.tokens.findRefreshToken(tokenDigest(token)) : null;
  }

  /** Ends a grant whose token was presented twice: every refresh and access token of the family. */
  async revokeFamily(grantId: string, clientId: string, why: string): Promise<void> {
    this.log.warn({ grant: grantId, client: clientId }, `${why}: revoking its grant`);
    await this.tokens.revokeGrant(grantId);
  }

  /**
   * A single-use code for a signed-in user, short-lived (TESSERA_CODE_TTL, 60 s by default) and
   * bound to the client, the redirect URI and the PKCE challenge. Stored by digest.
   */
  async issueCode(code: CodeRequest): Promise<string> {
    const value = newOpaqueToken(CODE_PREFIX);
    await this.codes.save({
      nonce: null,
      authTime: null,
      sessionId: null,
      ...code,
      digest: tokenDigest(value),
      expiresAt: new Date(Date.now() + this.codeTtlSeconds * 1000),
    });
    return value;
  }

  async findCode(code: string): Promise<AuthorizationCodeRecord | null> {
    return hasOpaqueShape(code, CODE_PREFIX) ? this.codes.find(tokenDigest(code)) : null;
  }

  /** Uses the code for `grantId`; of concurrent uses, only one gets true. */
  consumeCode(code: AuthorizationCodeRecord, grantId: string): Promise<boolean> {
    return this.codes.consume(code.digest, grantId);
  }

  /** A refresh token's full lifetime, but never past its family's absolute end (the client's max session). */
  private refreshExpiry(client: ClientRecord, familyStart: Date): Date {
    return new Date(Math.min(Date.now() + client.refreshTtl * 1000, familyStart.getTime() + client.maxSession * 1000));
  }
}

const latest = (a: Date, b: Date) => (a.getTime() >= b.getTime() ? a : b);
