// Users: people who sign in with a password.
import type { Page, UserRecord } from '../records.js';
import type { ChangeFeed } from './change-feed.js';
import type { Db } from './dialect.js';
import { NotFoundError, retryingConflicts, translated } from './errors.js';
import { accessTokensEndBy, IN_FLIGHT_MS } from './revocations.js';
import { revokeTokensWhere } from './tokens.js';
import { afterCreationCursor, CREATION_ORDER, creationCursor, pageOf } from './paging.js';

type UserRow = NonNullable<Awaited<ReturnType<Db['user']['findUnique']>>>;

/** Roles and groups are stored as JSON arrays: a role may hold a space. */
function fromRow(row: UserRow): UserRecord {
  return { ...row, roles: JSON.parse(row.roles) as string[], groups: JSON.parse(row.groups) as string[] };
}

/** The fields a change may set, as the database stores them. */
export interface UserChange {
  email?: string | null;
  name?: string | null;
  emailVerified?: boolean;
  roles?: string[];
  groups?: string[];
}

function toRow(change: UserChange) {
  const { roles, groups, ...rest } = change;
  return {
    ...rest,
    ...(roles === undefined ? {} : { roles: JSON.stringify(roles) }),
    ...(groups === undefined ? {} : { groups: JSON.stringify(groups) }),
  };
}

export class UserStore {
  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
  ) {}

  async create({
    id,
    username,
    passwordHash,
    ...profile
  }: { id: string; username: string; passwordHash: string } & UserChange): Promise<UserRecord> {
    return fromRow(await translated(this.db.user.create({ data: { id, username, passwordHash, ...toRow(profile) } })));
  }

  async byId(id: string): Promise<UserRecord | null> {
    const row = await this.db.user.findUnique({ where: { id } });
    return row && fromRow(row);
  }

  async byUsername(username: string): Promise<UserRecord | null> {
    const row = await this.db.user.findUnique({ where: { username } });
    return row && fromRow(row);
  }

  async list(): Promise<UserRecord[]> {
    return (await this.db.user.findMany({ orderBy: { username: 'asc' } })).map(fromRow);
  }

  /** A page in creation order, after `cursor` (BadCursorError for one this server did not give). */
  async page(limit: number, cursor?: string): Promise<Page<UserRecord>> {
    const rows = await this.db.user.findMany({ where: afterCreationCursor(cursor), orderBy: CREATION_ORDER, take: limit + 1 });
    return pageOf(rows, limit, fromRow, creationCursor);
  }

  /** Profile fields only: nothing a token depends on, so nothing is revoked. Announced so caches reload the user. */
  async update(id: string, change: UserChange): Promise<UserRecord> {
    await translated(this.feed.commit([this.db.user.update({ where: { id }, data: toRow(change) })], [{ kind: 'user', subject: id }]));
    const user = await this.byId(id);
    if (!user) throw new NotFoundError('not found');
    return user;
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

  /**
   * Replaces a hash of the user's password by a better one of the same password (an imported
   * Django hash at the first sign-in): nothing the user holds ends. False when the hash changed meanwhile.
   */
  async upgradePasswordHash(id: string, from: string, to: string): Promise<boolean> {
    const { count } = await translated(this.db.user.updateMany({ where: { id, passwordHash: from }, data: { passwordHash: to } }));
    return count === 1;
  }

  /** The hashes that are not our own Argon2id (imported ones awaiting their first sign-in), read in pages. */
  async *foreignPasswordHashes(pageSize = 5_000): AsyncGenerator<string> {
    for (let after = ''; ;) {
      const rows = await this.db.user.findMany({
        where: { id: { gt: after }, NOT: { passwordHash: { startsWith: '$argon2id$' } } },
        select: { id: true, passwordHash: true },
        orderBy: { id: 'asc' },
        take: pageSize,
      });
      for (const row of rows) yield row.passwordHash;
      const last = rows.at(-1);
      if (!last || rows.length < pageSize) return;
      after = last.id;
    }
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
    const at = new Date(now.getTime() + IN_FLIGHT_MS);
    const revoked = [{ sub: id, at, exp: await accessTokensEndBy(this.db, at) }];
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
