// Grants (refresh token families), refresh tokens, opaque access tokens and revoked JWTs.
// Tokens are stored and looked up by digest only.
import type { Db } from './database.js';
import type { ChangeFeed } from './change-feed.js';
import { GroupCommit } from './group-commit.js';

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

export interface GrantRecord {
  id: string;
  clientId: string;
  userId: string;
  scope: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
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

export type NewAccessToken = Omit<AccessTokenRecord, 'revokedAt'>;

export interface NewRefreshToken {
  digest: string;
  parentDigest: string | null;
  scope: string;
  expiresAt: Date;
}

export class TokenStore {
  private readonly accessTokenWrites: GroupCommit<NewAccessToken>;

  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
  ) {
    this.accessTokenWrites = new GroupCommit((tokens) => this.saveAccessTokens(tokens));
  }

  /** Resolves once the token is committed; concurrent saves share one commit. */
  saveAccessToken(token: NewAccessToken): Promise<void> {
    return this.accessTokenWrites.insert(token);
  }

  /** Many at once (imports, benchmarks): one multi-row INSERT per call. */
  async saveAccessTokens(tokens: NewAccessToken[]): Promise<void> {
    await this.db.accessToken.createMany({ data: tokens });
  }

  accessToken(digest: string): Promise<AccessTokenRecord | null> {
    return this.db.accessToken.findUnique({ where: { digest } });
  }

  grant(id: string): Promise<GrantRecord | null> {
    return this.db.grant.findUnique({ where: { id } });
  }

  refreshToken(digest: string): Promise<RefreshTokenRecord | null> {
    return this.db.refreshToken.findUnique({ where: { digest }, include: { grant: true } });
  }

  /** A new grant with its first refresh token and, for opaque tokens, its first access token. */
  async startGrant(grant: Omit<GrantRecord, 'createdAt' | 'revokedAt'>, refresh: NewRefreshToken, access: NewAccessToken | null) {
    await this.db.$transaction([
      this.db.grant.create({ data: grant }),
      this.db.refreshToken.create({ data: { ...refresh, grantId: grant.id } }),
      ...(access ? [this.db.accessToken.create({ data: access })] : []),
    ]);
  }

  /**
   * Rotation, in one transaction: uses the presented refresh token up and stores its successor
   * (and the new access token), extending the grant's life. The use is a conditional update that
   * only one transaction can win. A loser's transaction writes its successor rows too — one
   * batch with no round trips is several times faster than an interactive transaction — but a
   * loser is a reuse: the caller revokes the whole grant, those rows with it, before anything
   * reaches the client.
   */
  async rotate(
    usedDigest: string,
    grantId: string,
    next: NewRefreshToken,
    access: NewAccessToken | null,
    expiresAt: Date,
  ): Promise<boolean> {
    const [used] = await this.db.$transaction([
      this.db.refreshToken.updateMany({
        where: { digest: usedDigest, consumedAt: null, revokedAt: null },
        data: { consumedAt: new Date() },
      }),
      this.db.refreshToken.create({ data: { ...next, grantId } }),
      ...(access ? [this.db.accessToken.create({ data: access })] : []),
      this.db.grant.updateMany({ where: { id: grantId, expiresAt: { lt: expiresAt } }, data: { expiresAt } }),
    ]);
    return (used as { count: number }).count === 1;
  }

  /** Revokes a grant: every refresh token of the family, and every access token issued from it. */
  async revokeGrant(grantId: string): Promise<void> {
    const now = new Date();
    await this.feed.commit(
      [
        this.db.grant.updateMany({ where: { id: grantId, revokedAt: null }, data: { revokedAt: now } }),
        this.db.refreshToken.updateMany({ where: { grantId, revokedAt: null }, data: { revokedAt: now } }),
        this.db.accessToken.updateMany({ where: { grantId, revokedAt: null }, data: { revokedAt: now } }),
      ],
      [{ kind: 'grant', subject: grantId }],
    );
  }

  async revokeAccessToken(digest: string): Promise<void> {
    await this.feed.commit(
      [this.db.accessToken.updateMany({ where: { digest, revokedAt: null }, data: { revokedAt: new Date() } })],
      [{ kind: 'access', subject: digest }],
    );
  }

  async revokeJwt(jti: string, expiresAt: Date): Promise<void> {
    await this.feed.commit(
      [this.db.revokedJwt.upsert({ where: { jti }, create: { jti, expiresAt }, update: {} })],
      [{ kind: 'jwt', subject: `${jti} ${expiresAt.getTime()}` }],
    );
  }

  /** Revoked JWTs that have not expired yet: few enough to hold in memory whole. */
  revokedJwts(now: Date): Promise<{ jti: string; expiresAt: Date }[]> {
    return this.db.revokedJwt.findMany({ where: { expiresAt: { gt: now } } });
  }
}
