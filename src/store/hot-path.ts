// The token statements that run thousands of times a second — storing opaque access tokens,
// starting grants, rotating refresh tokens, finding a refresh token — written as raw SQL, one
// implementation per dialect. Through Prisma each statement costs ~100 µs of query compilation and interpretation
// on the event loop, which at these rates was most of the request (see bench/RESULTS.md); the
// rest of the store stays on Prisma, where clarity matters more than microseconds.
//
// Column names and date encodings here must match what Prisma writes for prisma/models.prisma:
// test/hot-path.test.ts reads rows written here through Prisma and the other way round.
import type { GrantRecord, NewAccessToken, NewRefreshToken, RefreshTokenRecord } from './tokens.js';

/** A new grant (a sign-in) with its first refresh token and, for opaque tokens, access token. */
export interface GrantStart {
  grant: Omit<GrantRecord, 'createdAt' | 'revokedAt'>;
  refresh: NewRefreshToken;
  access: NewAccessToken | null;
}

export interface Rotation {
  usedDigest: string;
  /** The used token's grant, as read with it. */
  grantId: string;
  next: NewRefreshToken;
  access: NewAccessToken | null;
  /** The grant must last at least this long (its tokens' latest expiry)… */
  grantExpiresAt: Date;
  /** …and when it does not, it is extended to this, later, so that most rotations leave it be. */
  grantExtendedTo: Date;
}

export interface HotPath {
  /** Stores the tokens in one transaction. */
  insertAccessTokens(tokens: NewAccessToken[]): Promise<void>;
  /** Stores the grants and their first tokens in one transaction. */
  startGrants(starts: GrantStart[], now: Date): Promise<void>;
  /**
   * In one transaction, for each rotation whose used token is still unconsumed and unrevoked:
   * consume it, store its successor and access token, and extend the grant if it ends too soon.
   * A rotation whose token was already used writes nothing. Answers, per rotation, whether it
   * won. The used digests must be distinct.
   */
  rotate(rotations: Rotation[], now: Date): Promise<boolean[]>;
  refreshToken(digest: string): Promise<RefreshTokenRecord | null>;
}

/**
 * A refresh token with its grant from the columns both dialects select, in this order:
 * the token's digest, grantId, parentDigest, scope, createdAt, expiresAt, consumedAt, revokedAt,
 * then the grant's clientId, userId, scope, createdAt, expiresAt, revokedAt.
 */
export function refreshRecordFrom(row: unknown[], toDate: (value: unknown) => Date): RefreshTokenRecord {
  const orNull = (value: unknown) => (value === null ? null : toDate(value));
  const [
    digest,
    grantId,
    parentDigest,
    scope,
    createdAt,
    expiresAt,
    consumedAt,
    revokedAt,
    clientId,
    userId,
    grantScope,
    grantCreated,
    grantExpires,
    grantRevoked,
  ] = row;
  return {
    digest: digest as string,
    grantId: grantId as string,
    parentDigest: parentDigest as string | null,
    scope: scope as string,
    createdAt: toDate(createdAt),
    expiresAt: toDate(expiresAt),
    consumedAt: orNull(consumedAt),
    revokedAt: orNull(revokedAt),
    grant: {
      id: grantId as string,
      clientId: clientId as string,
      userId: userId as string,
      scope: grantScope as string,
      createdAt: toDate(grantCreated),
      expiresAt: toDate(grantExpires),
      revokedAt: orNull(grantRevoked),
    },
  };
}
