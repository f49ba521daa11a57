// Answers "is this token active now, and what does it say?" for /token/verify and /introspect.
// This is the hot path every resource server hits on every request: a valid access token is
// answered from memory (src/store/read-cache.ts) or, for a JWT, from its signature; the database
// is read only on a cache miss.
import { LRUCache } from 'lru-cache';
import type { ClientRecord, RefreshTokenRecord, UserRecord } from '../records.js';
import type { ReadCache } from '../store/read-cache.js';
import type { TokenStore } from '../store/tokens.js';
import { verifyAccessToken, type AccessTokenClaims } from './jwt.js';
import type { KeyRing } from './keys.js';
import { refreshTokenState } from './lifecycle.js';
import { audienceOf } from './minter.js';
import { opaqueJti, opaqueKind, tokenDigest } from './opaque.js';

export interface ActiveToken {
  tokenType: 'access_token' | 'refresh_token';
  client: ClientRecord;
  /**
   * The user the token speaks for, as they are now (null for a client's own token): /token/verify,
   * /introspect and /userinfo answer with their current roles, groups and profile, for a JWT too.
   */
  user: UserRecord | null;
  username: string | null;
  sub: string;
  scope: string;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
  /** A JWT's own claim; for an opaque token, its client's audience (by default the issuer). */
  aud: string;
  jti: string;
  /** The grant (refresh family) a user's token was issued under: what the revocation stream names. */
  sid: string | null;
}

interface Subject {
  clientId: string;
  /** The user the token speaks for; null for a client's own token (client_credentials). */
  userId: string | null;
  grantId: string | null;
  issuedAtMs: number;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** Every scope of the space-separated `scope` is one of `allowed`. */
function scopeFits(scope: string, allowed: readonly string[]): boolean {
  return scope === '' || scope.split(' ').every((token) => allowed.includes(token));
}

export class TokenInspector {
  /**
   * JWTs whose signature and claims already verified, by the exact token string: the same bytes
   * verify the same way, so a service presenting one token on every request pays for ECDSA once.
   * Expiry is checked on every use; the cache is dropped whenever the keys change.
   */
  private readonly verifiedJwts = new LRUCache<string, AccessTokenClaims>({ max: 20_000 });

  constructor(
    private readonly cache: ReadCache,
    private readonly tokens: TokenStore,
    private readonly keys: KeyRing,
    private readonly issuer: string,
  ) {}

  /** The signing keys changed: a verification made with the old set may no longer hold. */
  forgetVerifiedJwts(): void {
    this.verifiedJwts.clear();
  }

  /**
   * An access token (opaque or JWT) that is active now, or null. With `audience`, only a token
   * issued for that audience counts (RFC 9068 §4): a token minted for one API is not valid at another.
   */
  async activeAccessToken(token: string, audience?: string): Promise<ActiveToken | null> {
    const active = await this.active(token, false);
    return active && (audience === undefined || active.aud === audience) ? active : null;
  }

  /**
   * Any token this server issued that is active now. No token_type_hint is needed (RFC 7662
   * §2.1 lets a server ignore it): the prefix or JWT shape says what a token is.
   */
  async activeToken(token: string): Promise<ActiveToken | null> {
    return this.active(token, true);
  }

  private async active(token: string, refreshTokensToo: boolean): Promise<ActiveToken | null> {
    switch (opaqueKind(token)) {
      case 'access':
        return this.activeOpaqueAccessToken(token);
      case 'refresh':
        return refreshTokensToo ? this.activeRefreshToken(token) : null;
      case 'code':
        return null;
      case null:
        return this.activeJwt(token);
    }
  }

  private async activeOpaqueAccessToken(token: string): Promise<ActiveToken | null> {
    const digest = tokenDigest(token);
    const record = await this.cache.accessTokens.get(digest);
    if (!record || record.revokedAt || record.expiresAt.getTime() <= Date.now()) return null;
    return this.activeOpaque('access_token', digest, record, { ...record, issuedAtMs: record.issuedAt.getTime() });
  }

  private async activeJwt(token: string): Promise<ActiveToken | null> {
    let claims = this.verifiedJwts.get(token);
    if (!claims) {
      claims = (await verifyAccessToken(this.keys, token, this.issuer)) ?? undefined;
      if (claims) this.verifiedJwts.set(token, claims);
    }
    if (!claims || claims.exp * 1000 <= Date.now() || this.cache.isJwtRevoked(claims.jti)) return null;
    // iat has whole seconds: a token from the second of a revoke-everything counts as before it.
    const subject = await this.liveSubject(
      {
        clientId: claims.client_id,
        userId: claims.sub === claims.client_id ? null : claims.sub,
        grantId: claims.sid ?? null,
        issuedAtMs: claims.iat * 1000,
      },
      claims.scope ?? '',
    );
    if (!subject) return null;
    return {
      tokenType: 'access_token',
      ...subject,
      aud: claims.aud,
      scope: claims.scope ?? '',
      iat: claims.iat,
      exp: claims.exp,
      jti: claims.jti,
    };
  }

  /** Refresh tokens are rare at introspection and must be exact: always read from the database. */
  private async activeRefreshToken(token: string): Promise<ActiveToken | null> {
    const digest = tokenDigest(token);
    const record: RefreshTokenRecord | null = await this.tokens.findRefreshToken(digest);
    if (!record || refreshTokenState(record) !== 'usable') return null;
    const { grant } = record;
    return this.activeOpaque('refresh_token', digest, record, {
      clientId: grant.clientId,
      userId: grant.userId,
      grantId: grant.id,
      issuedAtMs: record.createdAt.getTime(),
    });
  }

  /** An opaque token's answer, if its subject is still live. */
  private async activeOpaque(
    tokenType: ActiveToken['tokenType'],
    digest: string,
    record: { scope: string; expiresAt: Date },
    subject: Subject,
  ): Promise<ActiveToken | null> {
    const live = await this.liveSubject(subject, record.scope);
    if (!live) return null;
    return {
      tokenType,
      ...live,
      scope: record.scope,
      iat: seconds(subject.issuedAtMs),
      exp: seconds(record.expiresAt.getTime()),
      jti: opaqueJti(digest),
    };
  }

  /** The client still exists, the user is active and has not had everything revoked, the grant stands. */
  private async liveSubject(subject: Subject, scope: string) {
    // All three are usually cached; misses load side by side, since each lookup starts before any is awaited.
    const clientLookup = this.cache.clients.get(subject.clientId);
    const userLookup = subject.userId ? this.cache.users.get(subject.userId) : null;
    const grantLookup = subject.grantId ? this.cache.grants.get(subject.grantId) : null;
    const [client, user, grant] = [await clientLookup, await userLookup, await grantLookup];
    if (!client) return null;
    if (client.tokensValidAfter) {
      // The client was narrowed (or all its tokens ended): a token minted meanwhile from a stale
      // copy of it, after tokensValidAfter, may hold a scope it no longer has.
      if (subject.issuedAtMs <= client.tokensValidAfter.getTime()) return null;
      if (!scopeFits(scope, client.scopes)) return null;
    }
    if (subject.userId && (!user || !user.active)) return null;
    if (user?.tokensValidAfter && subject.issuedAtMs <= user.tokensValidAfter.getTime()) return null;
    if (subject.grantId && (!grant || grant.revokedAt)) return null;
    return {
      client,
      user: user ?? null,
      username: user?.username ?? null,
      sub: subject.userId ?? client.id,
      aud: audienceOf(client, this.issuer),
      sid: subject.grantId,
    };
  }
}
