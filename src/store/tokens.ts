// Grants (refresh token families), refresh tokens, opaque access tokens and revoked JWTs.
// Tokens are stored and looked up by digest only.
import type { Prisma } from '../generated/sqlite/client.ts';
import type { AccessTokenRecord, GrantRecord, NewAccessToken, NewRefreshToken, RefreshTokenRecord } from '../records.js';
import type { ChangeFeed } from './change-feed.js';
import type { Db } from './dialect.js';
import { retryingConflicts } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { accessTokensEndBy } from './revocations.js';
import type { GrantStart, HotPath, Rotation } from './hot-path.js';

/**
 * The writes that revoke the matching grants, their refresh tokens, and the matching access tokens.
 * They lock rows in the order a rotation does (its refresh token, then its grant), so that on
 * PostgreSQL the two cannot deadlock: the first statement waits for any rotation in the family to
 * commit. A successor that rotation stored is not in that statement's snapshot, so the refresh
 * tokens are revoked once more after the grant, when it is visible (READ COMMITTED: a new snapshot
 * per statement).
 */
export function revokeTokensWhere(db: Db, now: Date, where: { grant: Prisma.GrantWhereInput; access: Prisma.AccessTokenWhereInput }) {
  const revoke = { data: { revokedAt: now } };
  const refreshTokens = () => db.refreshToken.updateMany({ where: { grant: where.grant, revokedAt: null }, ...revoke });
  return [
    refreshTokens(),
    db.grant.updateMany({ where: { ...where.grant, revokedAt: null }, ...revoke }),
    refreshTokens(),
    db.accessToken.updateMany({ where: { ...where.access, revokedAt: null }, ...revoke }),
  ];
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

  findAccessToken(digest: string): Promise<AccessTokenRecord | null> {
    return this.db.accessToken.findUnique({ where: { digest } });
  }

  findGrant(id: string): Promise<GrantRecord | null> {
    return this.db.grant.findUnique({ where: { id } });
  }

  findRefreshToken(digest: string): Promise<RefreshTokenRecord | null> {
    return this.hotPath.findRefreshToken(digest);
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

  /**
   * Revokes a grant: every refresh token of the family, and every access token issued from it.
   * A revocation must not be lost to a deadlock or serialization failure (a reuse would leave the
   * family alive): it is run again, on fresh statements.
   */
  async revokeGrant(grantId: string): Promise<void> {
    const at = new Date();
    const exp = await accessTokensEndBy(this.db, at, { grantsIssued: { some: { id: grantId } } });
    await retryingConflicts(() =>
      this.feed.commit(
        revokeTokensWhere(this.db, at, { grant: { id: grantId }, access: { grantId } }),
        [{ kind: 'grant', subject: grantId }],
        [{ sid: grantId, at: exp, exp }],
      ),
    );
  }

  /** `jti` names the token on the revocation stream (an opaque token's is derived from its digest). */
  async revokeAccessToken(digest: string, announced: { jti: string; expiresAt: Date }): Promise<void> {
    const at = new Date();
    await this.feed.commit(
      [this.db.accessToken.updateMany({ where: { digest, revokedAt: null }, data: { revokedAt: at } })],
      [{ kind: 'access', subject: digest }],
      [{ jti: announced.jti, at, exp: announced.expiresAt }],
    );
  }

  async isJwtRevoked(jti: string): Promise<boolean> {
    return (await this.db.revokedJwt.findUnique({ where: { jti }, select: { jti: true } })) !== null;
  }

  async revokeJwt(jti: string, expiresAt: Date): Promise<void> {
    await this.feed.commit(
      [this.db.revokedJwt.upsert({ where: { jti }, create: { jti, expiresAt }, update: {} })],
      [{ kind: 'jwt', subject: `${jti} ${expiresAt.getTime()}` }],
      [{ jti, at: new Date(), exp: expiresAt }],
    );
  }

  /** Revoked JWTs that have not expired yet: few enough to hold in memory whole. */
  revokedJwts(now: Date): Promise<{ jti: string; expiresAt: Date }[]> {
    return this.db.revokedJwt.findMany({ where: { expiresAt: { gt: now } } });
  }
}
