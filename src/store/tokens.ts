// Grants (refresh token families), refresh tokens, opaque access tokens and revoked JWTs.
// Tokens are stored and looked up by digest only.
import type { Db } from './database.js';
import type { ChangeFeed } from './change-feed.js';
import { GroupCommit } from './group-commit.js';
import type { GrantStart, HotPath, Rotation } from './hot-path.js';

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
  private readonly accessTokenWrites: GroupCommit<NewAccessToken, undefined>;
  private readonly grantStarts: GroupCommit<GrantStart, undefined>;
  private readonly rotations: GroupCommit<Rotation, boolean>;

  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
    private readonly hotPath: HotPath,
  ) {
    const batched = <T>(write: (items: T[]) => Promise<void>) =>
      new GroupCommit<T, undefined>(async (items) => {
        await write(items);
        return items.map(() => undefined);
      });
    this.accessTokenWrites = batched((tokens) => hotPath.insertAccessTokens(tokens));
    this.grantStarts = batched((starts) => hotPath.startGrants(starts, new Date()));
    this.rotations = new GroupCommit((batch) => this.rotateDistinct(batch));
  }

  /** Resolves once the token is committed; concurrent saves share one commit. */
  saveAccessToken(token: NewAccessToken): Promise<void> {
    return this.accessTokenWrites.write(token);
  }

  /** Many at once (imports, benchmarks), in one transaction. */
  saveAccessTokens(tokens: NewAccessToken[]): Promise<void> {
    return this.hotPath.insertAccessTokens(tokens);
  }

  accessToken(digest: string): Promise<AccessTokenRecord | null> {
    return this.db.accessToken.findUnique({ where: { digest } });
  }

  grant(id: string): Promise<GrantRecord | null> {
    return this.db.grant.findUnique({ where: { id } });
  }

  refreshToken(digest: string): Promise<RefreshTokenRecord | null> {
    return this.hotPath.refreshToken(digest);
  }

  /**
   * A new grant with its first refresh token and, for opaque tokens, its first access token;
   * concurrent starts share one commit.
   */
  startGrant(grant: GrantStart['grant'], refresh: NewRefreshToken, access: NewAccessToken | null): Promise<void> {
    return this.grantStarts.write({ grant, refresh, access });
  }

  /**
   * Rotation, committed before it resolves: uses the presented refresh token up and stores its
   * successor (and the new access token), extending the grant's life. The use is conditional, so
   * of concurrent rotations of one token exactly one wins and the others write nothing and answer
   * false — a reuse, on which the caller revokes the grant. Concurrent rotations of different
   * tokens share one commit.
   */
  rotate(rotation: Omit<Rotation, 'grantExtendedTo'>): Promise<boolean> {
    // A grant extended on every rotation is a row rewritten thousands of times a second (and on
    // PostgreSQL, dead row versions that every later lookup of it wades through). Extending it to
    // twice its remaining need rewrites it about once per refresh lifetime; it is pruned that
    // much later at most.
    const needed = rotation.grantExpiresAt.getTime();
    return this.rotations.write({ ...rotation, grantExtendedTo: new Date(needed + Math.max(0, needed - Date.now())) });
  }

  /** A batch may hold the same token twice (a client racing itself): only the first can win. */
  private async rotateDistinct(batch: Rotation[]): Promise<boolean[]> {
    const seen = new Set<string>();
    const distinct = batch.filter((r) => !seen.has(r.usedDigest) && seen.add(r.usedDigest));
    const results = await this.hotPath.rotate(distinct, new Date());
    const won = new Set(distinct.filter((_, i) => results[i]));
    return batch.map((r) => won.has(r));
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
