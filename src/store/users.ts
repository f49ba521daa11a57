// Users: people who sign in with a password.
import type { UserRecord } from '../records.js';
import type { ChangeFeed } from './change-feed.js';
import type { Db } from './dialect.js';
import { retryingConflicts, translated } from './errors.js';
import { accessTokensEndBy } from './revocations.js';
import { revokeTokensWhere } from './tokens.js';

/**
 * How long after a user's revocation is decided the stream's event still covers new tokens: one
 * minted meanwhile by a refresh already in flight (its grant is revoked, but its iat may be a
 * second later) must be refused by resource servers too. A new sign-in within it gets a token
 * they refuse (the server itself refuses one from the same second: iat has whole seconds).
 */
const IN_FLIGHT_MS = 1000;

export class UserStore {
  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
  ) {}

  create(user: { id: string; username: string; email: string | null; passwordHash: string }): Promise<UserRecord> {
    return translated(this.db.user.create({ data: user }));
  }

  byId(id: string): Promise<UserRecord | null> {
    return this.db.user.findUnique({ where: { id } });
  }

  byUsername(username: string): Promise<UserRecord | null> {
    return this.db.user.findUnique({ where: { username } });
  }

  list(): Promise<UserRecord[]> {
    return this.db.user.findMany({ orderBy: { username: 'asc' } });
  }

  /** Activation alone revives nothing: deactivation ended every token for good. */
  async activate(id: string): Promise<void> {
    await translated(this.feed.commit([this.db.user.update({ where: { id }, data: { active: true } })], [{ kind: 'user', subject: id }]));
  }

  /** Deactivation: the user can no longer sign in, and everything they hold ends for good. */
  deactivate(id: string): Promise<void> {
    return this.endEverything(id, { active: false });
  }

  /** A new password ends every token and unused code of the user. */
  setPassword(id: string, passwordHash: string): Promise<void> {
    return this.endEverything(id, { passwordHash });
  }

  revokeEverything(id: string): Promise<void> {
    return this.endEverything(id, {});
  }

  /**
   * Changes the user's row and, in the same transaction announced on the change feed, revokes
   * everything they hold: every grant with its refresh tokens, every access token issued until
   * now (JWTs too, through tokensValidAfter), and every authorization code not yet exchanged.
   */
  private async endEverything(id: string, change: { active?: boolean; passwordHash?: string }): Promise<void> {
    const now = new Date();
    const revoked = [{ sub: id, at: new Date(now.getTime() + IN_FLIGHT_MS), exp: await accessTokensEndBy(this.db, now) }];
    // Retried on a deadlock with a concurrent rotation (see revokeTokensWhere), like revokeGrant.
    await retryingConflicts(() =>
      translated(
        this.feed.commit(
          [
            this.db.user.update({ where: { id }, data: { ...change, tokensValidAfter: now } }),
            ...revokeTokensWhere(this.db, now, { grant: { userId: id }, access: { userId: id } }),
            this.db.authorizationCode.deleteMany({ where: { userId: id, consumedAt: null } }),
          ],
          [{ kind: 'user', subject: id }],
          revoked,
        ),
      ),
    );
  }

  /** Deletes the user and, by cascade, everything issued to them. */
  async delete(id: string): Promise<void> {
    const at = new Date();
    await translated(
      this.feed.commit(
        [this.db.user.delete({ where: { id } })],
        [{ kind: 'user', subject: id }],
        [{ sub: id, at, exp: await accessTokensEndBy(this.db, at) }],
      ),
    );
  }
}
