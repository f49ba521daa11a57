// The hot-path statements on SQLite, prepared once and run on Prisma's own connection (see
// database.ts): one connection means one view of the file and no lock contention between two.
// better-sqlite3 is synchronous, so each of these transactions begins and commits within one
// turn of the event loop; the only care needed is not to begin while Prisma has a transaction of
// its own open on the connection (Prisma awaits between its statements).
import type BetterSqlite3 from 'better-sqlite3';
import { refreshRecordFrom, type GrantStart, type HotPath, type Rotation } from './hot-path.js';
import type { NewAccessToken, NewRefreshToken, RefreshTokenRecord } from './tokens.js';

/** How Prisma's SQLite adapter stores a DateTime (its default "iso8601" format). */
const stored = (date: Date) => date.toISOString().replace('Z', '+00:00');

export class SqliteHotPath implements HotPath {
  private readonly insertAccess: BetterSqlite3.Statement;
  private readonly consume: BetterSqlite3.Statement;
  private readonly insertRefresh: BetterSqlite3.Statement;
  private readonly extendGrant: BetterSqlite3.Statement;
  private readonly insertGrant: BetterSqlite3.Statement;
  private readonly findRefresh: BetterSqlite3.Statement<[string], unknown[]>;
  readonly insertAccessTokens: (tokens: NewAccessToken[]) => Promise<void>;
  readonly startGrants: (starts: GrantStart[], now: Date) => Promise<void>;
  readonly rotate: (rotations: Rotation[], now: Date) => Promise<boolean[]>;

  constructor(private readonly connection: BetterSqlite3.Database) {
    this.insertAccess = connection.prepare(
      'INSERT INTO "AccessToken" ("digest", "clientId", "userId", "grantId", "scope", "issuedAt", "expiresAt") VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.consume = connection.prepare(
      'UPDATE "RefreshToken" SET "consumedAt" = ? WHERE "digest" = ? AND "consumedAt" IS NULL AND "revokedAt" IS NULL',
    );
    this.insertRefresh = connection.prepare(
      'INSERT INTO "RefreshToken" ("digest", "grantId", "parentDigest", "scope", "createdAt", "expiresAt") VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.extendGrant = connection.prepare('UPDATE "Grant" SET "expiresAt" = ? WHERE "id" = ? AND "expiresAt" < ?');
    this.insertGrant = connection.prepare(
      'INSERT INTO "Grant" ("id", "clientId", "userId", "scope", "createdAt", "expiresAt") VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.findRefresh = connection
      .prepare<[string], unknown[]>(
        `SELECT r."digest", r."grantId", r."parentDigest", r."scope", r."createdAt", r."expiresAt", r."consumedAt", r."revokedAt",
                g."clientId", g."userId", g."scope", g."createdAt", g."expiresAt", g."revokedAt"
           FROM "RefreshToken" r JOIN "Grant" g ON g."id" = r."grantId" WHERE r."digest" = ?`,
      )
      .raw();

    this.insertAccessTokens = this.batchWriter((tokens: NewAccessToken[]) => {
      for (const token of tokens) this.insertAccessRow(token);
    });
    this.startGrants = this.batchWriter((starts: GrantStart[], now: Date) => {
      for (const start of starts) this.startOne(start, stored(now));
    });
    this.rotate = this.batchWriter((rotations: Rotation[], now: Date) => rotations.map((r) => this.rotateOne(r, stored(now))));
  }

  /**
   * The batch runs as one transaction, once Prisma's are out of the way. IMMEDIATE: the write
   * lock is taken at BEGIN, so another process's writer makes it wait at the start (busy
   * timeout) rather than fail midway.
   */
  private batchWriter<A extends unknown[], R>(write: (...args: A) => R): (...args: A) => Promise<R> {
    const transaction = this.connection.transaction(write).immediate;
    return (...args) => this.whenIdle(() => transaction(...args));
  }

  refreshToken(digest: string): Promise<RefreshTokenRecord | null> {
    return this.whenIdle(() => {
      const row = this.findRefresh.get(digest);
      return row ? refreshRecordFrom(row, (value) => new Date(value as string)) : null;
    });
  }

  private insertAccessRow(t: NewAccessToken): void {
    this.insertAccess.run(t.digest, t.clientId, t.userId, t.grantId, t.scope, stored(t.issuedAt), stored(t.expiresAt));
  }

  private startOne({ grant, refresh, access }: GrantStart, now: string): void {
    this.insertGrant.run(grant.id, grant.clientId, grant.userId, grant.scope, now, stored(grant.expiresAt));
    this.insertRefreshRow(grant.id, refresh, now);
    if (access) this.insertAccessRow(access);
  }

  private insertRefreshRow(grantId: string, refresh: NewRefreshToken, now: string): void {
    this.insertRefresh.run(refresh.digest, grantId, refresh.parentDigest, refresh.scope, now, stored(refresh.expiresAt));
  }

  private rotateOne(r: Rotation, now: string): boolean {
    if (this.consume.run(now, r.usedDigest).changes !== 1) return false;
    this.insertRefreshRow(r.grantId, r.next, now);
    if (r.access) this.insertAccessRow(r.access);
    this.extendGrant.run(stored(r.grantExtendedTo), r.grantId, stored(r.grantExpiresAt));
    return true;
  }

  /** Runs the work at once unless Prisma has a transaction open here; then as soon as it ends. */
  private whenIdle<T>(work: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        if (this.connection.inTransaction) return void setImmediate(attempt);
        try {
          resolve(work());
        } catch (error) {
          reject(error);
        }
      };
      attempt();
    });
  }
}
