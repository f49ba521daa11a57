// The token statements that run thousands of times a second — storing opaque access tokens and
// authorization codes, starting grants, rotating refresh tokens, finding a refresh token — written as raw SQL, one
// implementation per dialect (src/store/dialects/). Through Prisma each statement costs ~100 µs of
// query compilation and interpretation on the event loop, which at these rates was most of the
// request (see bench/RESULTS.md); the rest of the store stays on Prisma, where clarity matters
// more than microseconds. Column lists come from src/store/sql.ts, checked against Prisma's types.
import type { GrantRecord, NewAccessToken, NewAuthorizationCode, NewRefreshToken, RefreshTokenRecord } from '../records.js';
import { GRANT, REFRESH_TOKEN, column, decode, quote, selectList, type Kind } from './sql.js';

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
  /** The successor; its parent is the used token. */
  next: Omit<NewRefreshToken, 'parentDigest'>;
  access: NewAccessToken | null;
  /** The grant must last at least this long (its tokens' latest expiry)… */
  grantExpiresAt: Date;
  /** …and when it does not, it is extended to this, later, so that most rotations leave it be. */
  grantExtendedTo: Date;
}

export interface HotPath {
  /** Stores the tokens in one transaction. */
  insertAccessTokens(tokens: NewAccessToken[]): Promise<void>;
  /** Stores the codes in one transaction. */
  insertCodes(codes: NewAuthorizationCode[]): Promise<void>;
  /**
   * In one transaction, marks each code used for its grant if it is still unused; answers, per
   * use, whether it won. The digests must be distinct.
   */
  consumeCodes(uses: CodeUse[], now: Date): Promise<boolean[]>;
  /** Stores the grants and their first tokens in one transaction. */
  startGrants(starts: GrantStart[], now: Date): Promise<void>;
  /**
   * In one transaction, for each rotation whose used token is still unconsumed and unrevoked:
   * consume it, store its successor and access token, and extend the grant if it ends too soon.
   * A rotation whose token was already used writes nothing. Answers, per rotation, whether it
   * won. The used digests must be distinct.
   */
  rotate(rotations: Rotation[], now: Date): Promise<boolean[]>;
  findRefreshToken(digest: string): Promise<RefreshTokenRecord | null>;
  /**
   * Records client assertions as used, in one transaction; answers the keys recorded now, and not
   * those recorded before (replays). The keys must be distinct.
   */
  recordAssertions(used: UsedAssertion[]): Promise<Set<string>>;
}

/** An authorization code being exchanged, and the grant its exchange starts. */
export interface CodeUse {
  digest: string;
  grantId: string;
}

export interface UsedAssertion {
  key: string;
  expiresAt: Date;
}

/** A refresh token's row as the INSERT of REFRESH_TOKEN.insert wants it. */
export const refreshRow = (refresh: NewRefreshToken, grantId: string, createdAt: Date) => ({ ...refresh, grantId, createdAt });

/** A rotation's successor row: its parent is the token the rotation used. */
export const successorRow = (rotation: Rotation, createdAt: Date) =>
  refreshRow({ ...rotation.next, parentDigest: rotation.usedDigest }, rotation.grantId, createdAt);

const r = column(REFRESH_TOKEN);
const g = column(GRANT);

/** The refresh token with its grant, columns named r_<column> and g_<column>; `wrap` adapts date columns. */
export function findRefreshSql(parameter: string, wrap?: (sql: string, kind: Kind) => string): string {
  return `SELECT ${selectList(REFRESH_TOKEN, 'r', 'r_', wrap)}, ${selectList(GRANT, 'g', 'g_', wrap)}
            FROM ${quote(REFRESH_TOKEN.name)} r JOIN ${quote(GRANT.name)} g ON g.${g('id')} = r.${r('grantId')}
           WHERE r.${r('digest')} = ${parameter}`;
}

export function refreshRecordFrom(row: Readonly<Record<string, unknown>>, decodeDate: (value: unknown) => Date): RefreshTokenRecord {
  return { ...decode(REFRESH_TOKEN, row, 'r_', decodeDate), grant: decode(GRANT, row, 'g_', decodeDate) };
}
