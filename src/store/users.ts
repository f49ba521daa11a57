// Users: people who sign in with a password.
import type { UserRecord } from '../records.js';
import type { ChangeFeed } from './change-feed.js';
import type { Db } from './dialect.js';
import { translated } from './errors.js';
import { revokeTokensWhere } from './tokens.js';

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

  async setActive(id: string, active: boolean): Promise<void> {
    await translated(this.feed.commit([this.db.user.update({ where: { id }, data: { active } })], [{ kind: 'user', subject: id }]));
  }

  /** A new password: the user's refresh tokens stop working (their access tokens run out). */
  async setPassword(id: string, passwordHash: string): Promise<void> {
    const now = new Date();
    await translated(
      this.db.$transaction([
        this.db.user.update({ where: { id }, data: { passwordHash } }),
        this.db.refreshToken.updateMany({ where: { grant: { userId: id }, revokedAt: null }, data: { revokedAt: now } }),
      ]),
    );
  }

  /** Revokes everything the user holds: every grant, and every access token issued until now. */
  async revokeEverything(id: string): Promise<void> {
    const now = new Date();
    await translated(
      this.feed.commit(
        [
          this.db.user.update({ where: { id }, data: { tokensValidAfter: now } }),
          ...revokeTokensWhere(this.db, now, { grant: { userId: id }, access: { userId: id } }),
        ],
        [{ kind: 'user', subject: id }],
      ),
    );
  }

  /** Deletes the user and, by cascade, everything issued to them. */
  async delete(id: string): Promise<void> {
    await translated(this.feed.commit([this.db.user.delete({ where: { id } })], [{ kind: 'user', subject: id }]));
  }
}
