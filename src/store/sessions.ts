// Browser sessions (single sign-on): one row per sign-in on the /authorize page, found by the
// SHA-256 digest of the cookie's value (the value itself is never stored).
import type { SessionRecord } from '../records.js';
import type { ChangeFeed } from './change-feed.js';
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

  /** Records a use (the idle lifetime counts from it); an ended session stays ended. */
  async touch(id: string, at: Date): Promise<void> {
    await this.db.session.updateMany({ where: { id, endedAt: null }, data: { lastSeenAt: at } });
  }

  /**
   * Ends a session and everything its sign-in started, in one transaction announced on the change
   * feed (so that every instance forgets the session it cached): every grant (refresh family) with
   * its sessionId and the access tokens issued from them, announced on the revocation stream as
   * each grant's revocation is (TokenStore.revokeGrant), and its codes not yet exchanged, which
   * would otherwise start a family after the logout.
   */
  async end({ id, digest }: Pick<SessionRecord, 'id' | 'digest'>): Promise<void> {
    const at = new Date();
    const grants = await this.db.grant.findMany({ where: { sessionId: id, revokedAt: null }, select: { id: true } });
    // A family never issues a good token again: its event covers every token it ever issued.
    const exp = await accessTokensEndBy(this.db, at, { grantsIssued: { some: { sessionId: id } } });
    // Retried on a deadlock with a concurrent rotation (see revokeTokensWhere), like revokeGrant.
    await retryingConflicts(() =>
      this.feed.commit(
        [
          this.db.session.updateMany({ where: { id, endedAt: null }, data: { endedAt: at } }),
          ...revokeTokensWhere(this.db, at, { grant: { sessionId: id }, access: { grant: { sessionId: id } } }),
          this.db.authorizationCode.deleteMany({ where: { sessionId: id, consumedAt: null } }),
        ],
        [{ kind: 'session', subject: digest }, ...grants.map((grant) => ({ kind: 'grant' as const, subject: grant.id }))],
        grants.map((grant) => ({ sid: grant.id, at: exp, exp })),
      ),
    );
  }
}
