// Answers "is this token active now, and what does it say?" for /token/verify and /introspect.
// This is the hot path every resource server hits on every request: a valid access token is
// answered from memory (src/tokens/live-state.ts) or, for a JWT, from its signature; the
// database is read only on a cache miss.
import type { ClientRecord } from '../store/clients.js';
import type { Store } from '../store/store.js';
import { verifyAccessToken } from './jwt.js';
import type { KeyRing } from './keys.js';
import type { LiveState } from './live-state.js';
import { ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, hasOpaqueShape, tokenDigest } from './opaque.js';

export interface ActiveToken {
  tokenType: 'access_token' | 'refresh_token';
  format: 'opaque' | 'jwt';
  client: ClientRecord;
  /** The user the token speaks for; null for a client's own token (client_credentials). */
  userId: string | null;
  username: string | null;
  sub: string;
  scope: string;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
  aud: string;
  jti: string;
}

interface Subject {
  clientId: string;
  userId: string | null;
  grantId: string | null;
  issuedAtMs: number;
}

const seconds = (ms: number) => Math.floor(ms / 1000);
/** A non-secret identifier of an opaque token: part of its digest. */
const opaqueJti = (digest: string) => digest.slice(0, 32);

export class TokenInspector {
  constructor(
    private readonly store: Store,
    private readonly state: LiveState,
    private readonly keys: KeyRing,
    private readonly issuer: string,
  ) {}

  /** An access token (opaque or JWT) that is active now, or null. */
  async accessToken(token: string): Promise<ActiveToken | null> {
    if (hasOpaqueShape(token, ACCESS_TOKEN_PREFIX)) return this.opaqueAccessToken(token);
    return this.jwtAccessToken(token);
  }

  /**
   * Any token this server issued that is active now. No token_type_hint is needed (RFC 7662
   * §2.1 lets a server ignore it): the prefix or JWT shape says what a token is.
   */
  async anyToken(token: string): Promise<ActiveToken | null> {
    if (hasOpaqueShape(token, REFRESH_TOKEN_PREFIX)) return this.refreshToken(token);
    return this.accessToken(token);
  }

  private async opaqueAccessToken(token: string): Promise<ActiveToken | null> {
    const digest = tokenDigest(token);
    const lookup = this.state.accessTokens.get(digest);
    const record = lookup instanceof Promise ? await lookup : lookup;
    const now = Date.now();
    if (!record || record.revokedAt || record.expiresAt.getTime() <= now) return null;
    return this.activeOpaque('access_token', digest, record, { ...record, issuedAtMs: record.issuedAt.getTime() });
  }

  private async jwtAccessToken(token: string): Promise<ActiveToken | null> {
    let claims = this.state.verifiedJwts.get(token);
    if (!claims) {
      claims = (await verifyAccessToken(this.keys, token, this.issuer)) ?? undefined;
      if (claims) this.state.verifiedJwts.set(token, claims);
    }
    if (!claims || claims.exp * 1000 <= Date.now() || this.state.isJwtRevoked(claims.jti)) return null;
    const userId = claims.sub === claims.client_id ? null : claims.sub;
    // iat has whole seconds: a token from the second of a revoke-everything counts as before it.
    const subject = await this.liveSubject({
      clientId: claims.client_id,
      userId,
      grantId: claims.sid ?? null,
      issuedAtMs: claims.iat * 1000,
    });
    if (!subject) return null;
    return {
      tokenType: 'access_token',
      format: 'jwt',
      ...subject,
      aud: claims.aud,
      scope: claims.scope ?? '',
      iat: claims.iat,
      exp: claims.exp,
      jti: claims.jti,
    };
  }

  /** Refresh tokens are rare at introspection and must be exact: always read from the database. */
  private async refreshToken(token: string): Promise<ActiveToken | null> {
    const digest = tokenDigest(token);
    const record = await this.store.tokens.refreshToken(digest);
    if (!record || record.consumedAt || record.revokedAt || record.expiresAt.getTime() <= Date.now()) return null;
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
    const live = await this.liveSubject(subject);
    if (!live) return null;
    return {
      tokenType,
      format: 'opaque',
      ...live,
      scope: record.scope,
      iat: seconds(subject.issuedAtMs),
      exp: seconds(record.expiresAt.getTime()),
      jti: opaqueJti(digest),
    };
  }

  /** The client still exists, the user is active and has not had everything revoked, the grant stands. */
  private async liveSubject(subject: Subject) {
    // All three are usually cached, and then there is nothing to wait for.
    const clientLookup = this.state.clients.get(subject.clientId);
    const userLookup = subject.userId ? this.state.users.get(subject.userId) : null;
    const grantLookup = subject.grantId ? this.state.grants.get(subject.grantId) : null;
    const client = clientLookup instanceof Promise ? await clientLookup : clientLookup;
    const user = userLookup instanceof Promise ? await userLookup : userLookup;
    const grant = grantLookup instanceof Promise ? await grantLookup : grantLookup;
    if (!client) return null;
    if (subject.userId && (!user || !user.active)) return null;
    if (user?.tokensValidAfter && subject.issuedAtMs <= user.tokensValidAfter.getTime()) return null;
    if (subject.grantId && (!grant || grant.revokedAt)) return null;
    return {
      client,
      userId: subject.userId,
      username: user?.username ?? null,
      sub: subject.userId ?? client.id,
      aud: client.audience ?? this.issuer,
    };
  }
}
