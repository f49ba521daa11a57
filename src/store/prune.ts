// Removes rows nothing needs any more, in small batches so that no long transaction blocks the
// token endpoints: expired tokens, codes and grants, grants revoked long ago, old change events,
// signing keys past their publication, used client assertions past their expiry, and browser
// sessions that ended or reached their absolute end.
import type { Db } from './dialect.js';

const BATCH = 500;
const REVOKED_GRANT_RETENTION_MS = 24 * 3600_000;
const CHANGE_EVENT_RETENTION_MS = 3600_000;
const REVOCATION_RETENTION_MS = 3600_000;

export type PruneCounts = Record<
  | 'accessTokens'
  | 'refreshTokens'
  | 'grants'
  | 'revokedJwts'
  | 'revocations'
  | 'codes'
  | 'changeEvents'
  | 'signingKeys'
  | 'loginThrottles'
  | 'usedAssertions'
  | 'auditEntries'
  | 'initialAccessTokens'
  | 'sessions',
  number
>;

async function inBatches(find: () => Promise<unknown[]>, remove: (keys: unknown[]) => Promise<{ count: number }>, max: number) {
  let removed = 0;
  while (removed < max) {
    const keys = await find();
    if (keys.length === 0) break;
    removed += (await remove(keys)).count;
    if (keys.length < BATCH) break;
  }
  return removed;
}

/** `auditRetentionMs`: how long audit entries are kept (TESSERA_AUDIT_RETENTION_DAYS). */
export async function pruneExpired(db: Db, now: Date, auditRetentionMs: number, max = Number.MAX_SAFE_INTEGER): Promise<PruneCounts> {
  const take = BATCH;
  const digests = (rows: { digest: string }[]) => rows.map((r) => r.digest);
  const asStrings = (keys: unknown[]) => keys as string[];
  return {
    accessTokens: await inBatches(
      async () => digests(await db.accessToken.findMany({ where: { expiresAt: { lt: now } }, select: { digest: true }, take })),
      (keys) => db.accessToken.deleteMany({ where: { digest: { in: asStrings(keys) } } }),
      max,
    ),
    refreshTokens: await inBatches(
      async () => digests(await db.refreshToken.findMany({ where: { expiresAt: { lt: now } }, select: { digest: true }, take })),
      (keys) => db.refreshToken.deleteMany({ where: { digest: { in: asStrings(keys) } } }),
      max,
    ),
    grants: await inBatches(
      async () =>
        (
          await db.grant.findMany({
            where: { OR: [{ expiresAt: { lt: now } }, { revokedAt: { lt: new Date(now.getTime() - REVOKED_GRANT_RETENTION_MS) } }] },
            select: { id: true },
            take,
          })
        ).map((r) => r.id),
      (keys) => db.grant.deleteMany({ where: { id: { in: asStrings(keys) } } }),
      max,
    ),
    revokedJwts: (await db.revokedJwt.deleteMany({ where: { expiresAt: { lt: now } } })).count,
    // Kept a while past their end, so that a stream listener back from a short absence resumes
    // where it left off rather than being told to start over (see src/tokens/revocation-stream.ts).
    revocations: await inBatches(
      async () =>
        (
          await db.revocation.findMany({
            where: { exp: { lt: new Date(now.getTime() - REVOCATION_RETENTION_MS) } },
            select: { id: true },
            take,
          })
        ).map((r) => r.id),
      (keys) => db.revocation.deleteMany({ where: { id: { in: keys as number[] } } }),
      max,
    ),
    codes: (await db.authorizationCode.deleteMany({ where: { expiresAt: { lt: new Date(now.getTime() - 3600_000) } } })).count,
    changeEvents: (await db.changeEvent.deleteMany({ where: { createdAt: { lt: new Date(now.getTime() - CHANGE_EVENT_RETENTION_MS) } } }))
      .count,
    signingKeys: (await db.signingKey.deleteMany({ where: { publishUntil: { lt: now } } })).count,
    loginThrottles: (await db.loginThrottle.deleteMany({ where: { windowStart: { lt: new Date(now.getTime() - 24 * 3600_000) } } })).count,
    // An expired assertion is refused for its exp alone: its jti need not be remembered any more
    // (each row is kept until its assertion's exp plus the clock leeway).
    usedAssertions: await inBatches(
      async () => (await db.usedAssertion.findMany({ where: { expiresAt: { lt: now } }, select: { key: true }, take })).map((r) => r.key),
      (keys) => db.usedAssertion.deleteMany({ where: { key: { in: asStrings(keys) } } }),
      max,
    ),
    auditEntries: await inBatches(
      async () =>
        (
          await db.auditEntry.findMany({ where: { at: { lt: new Date(now.getTime() - auditRetentionMs) } }, select: { id: true }, take })
        ).map((r) => r.id),
      (keys) => db.auditEntry.deleteMany({ where: { id: { in: keys as number[] } } }),
      max,
    ),
    initialAccessTokens: (await db.initialAccessToken.deleteMany({ where: { expiresAt: { lt: now } } })).count,
    // An ended session is never live again, and its grants were revoked when it ended: its row
    // only names the sid of ID tokens, which a logout's hint may still name (and find ended or gone).
    sessions: await inBatches(
      async () =>
        (
          await db.session.findMany({ where: { OR: [{ expiresAt: { lt: now } }, { endedAt: { not: null } }] }, select: { id: true }, take })
        ).map((r) => r.id),
      (keys) => db.session.deleteMany({ where: { id: { in: asStrings(keys) } } }),
      max,
    ),
  };
}
