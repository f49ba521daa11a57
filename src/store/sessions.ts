// Browser sessions (single sign-on): one row per sign-in on the /authorize page, found by the
// SHA-256 digest of the cookie's value (the value itself is never stored).
import type { Prisma } from '../generated/sqlite/client.ts';
import type { SessionRecord } from '../records.js';
import type { ChangeFeed } from './change-feed.js';
import type { Change } from './changes.js';
import type { Db } from './dialect.js';
import { retryingConflicts } from './errors.js';
import { accessTokensEndBy } from './revocations.js';
import { revokeTokensWhere } from './tokens.js';

export class SessionStore {
  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
  ) {}

  async create(session: Omit<SessionRecord, 'endedAt'>): Promise<void> {
    await this.db.session.create({ data: session });
  }

  byDigest(digest: string): Promise<SessionRecord | null> {
    return this.db.session.findUnique({ where: { digest } });
  }

  byId(id: string): Promise<SessionRecord | null> {
    return this.db.session.findUnique({ where: { id } });
  }

  /**
   * Records a use (the idle lifetime counts from it), only while the session lives: an ended, idle
   * or expired session is never revived, so once the database says one is over it stays over.
   * False when it was not live.
   */
  async touch(id: string, at: Date, idleSeconds: number): Promise<boolean> {
    const { count } = await this.db.session.updateMany({
      where: { id, endedAt: null, expiresAt: { gt: at }, lastSeenAt: { gt: new Date(at.getTime() - idleSeconds * 1000) } },
      data: { lastSeenAt: at },
    });
    return count > 0;
  }

  /**
   * Ends a session and everything its sign-in started. `session` is the row, or, when pruning has
   * deleted it (past its absolute end, its refresh families may live on), its id alone; `userId`,
   * when given, limits this to that user's session and families. One transaction, announced on the
   * change feed (so that every instance forgets the session it cached), ends the session, voids its
   * codes not yet exchanged (they would start a family after the logout) and revokes its refresh
   * families with the access tokens issued from them, each announced on the revocation stream as
   * TokenStore.revokeGrant announces one.
   *
   * The families revoked are exactly those announced: selected first, revoked by id. A family
   * started meanwhile (a code exchanged while this runs) is revoked by a second pass, after the
   * commit; one started later sees the session ended and revokes itself (the authorization_code
   * grant checks after starting it), so none outlives the logout unannounced.
   */
  async end(session: { id: string; digest: string | null }, userId: string | null = null): Promise<void> {
    const owner = userId === null ? {} : { userId };
    const at = new Date();
    await this.revokeFamilies(
      session.id,
      owner,
      at,
      () => [
        this.db.session.updateMany({ where: { id: session.id, endedAt: null, ...owner }, data: { endedAt: at } }),
        this.db.authorizationCode.deleteMany({ where: { sessionId: session.id, consumedAt: null, ...owner } }),
      ],
      session.digest === null ? [] : [{ kind: 'session', subject: session.digest }],
    );
    await this.revokeFamilies(session.id, owner, at, null, []);
  }

  /** Whether the session has ended (read from the database); a pruned session has. */
  async isEnded(id: string): Promise<boolean> {
    const row = await this.db.session.findUnique({ where: { id }, select: { endedAt: true } });
    return row === null || row.endedAt !== null;
  }

  /** Commits `writes` (built afresh for each try) with the revocation of the session's live families (selected first, revoked by id). */
  private async revokeFamilies(
    sessionId: string,
    owner: { userId?: string },
    at: Date,
    writes: (() => Prisma.PrismaPromise<unknown>[]) | null,
    changes: Change[],
  ): Promise<void> {
    const grants = (await this.db.grant.findMany({ where: { sessionId, revokedAt: null, ...owner }, select: { id: true } })).map(
      (g) => g.id,
    );
    if (grants.length === 0 && writes === null) return;
    // A family never issues a good token again: its event covers every token it ever issued.
    const exp = grants.length === 0 ? at : await accessTokensEndBy(this.db, at, { grantsIssued: { some: { id: { in: grants } } } });
    // Retried on a deadlock with a concurrent rotation (see revokeTokensWhere), like revokeGrant.
    await retryingConflicts(() =>
      this.feed.commit(
        [
          ...(writes?.() ?? []),
          ...(grants.length === 0
            ? []
            : revokeTokensWhere(this.db, at, { grant: { id: { in: grants } }, access: { grantId: { in: grants } } })),
        ],
        [...changes, ...grants.map((id) => ({ kind: 'grant' as const, subject: id }))],
        grants.map((id) => ({ sid: id, at: exp, exp })),
      ),
    );
  }
}
