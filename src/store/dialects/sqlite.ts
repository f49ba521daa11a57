// SQLite, the embedded default: one file, one connection shared by Prisma and the hot path, and a
// change feed read by polling (several processes — the server, the admin command — may share the
// file).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaClient } from '../../generated/sqlite/client.ts';
import type { NewAccessToken, NewAuthorizationCode } from '../../records.js';
import { decodeChange } from '../changes.js';
import type { Database, DialectModule } from '../dialect.js';
import {
  findRefreshSql,
  refreshRecordFrom,
  refreshRow,
  successorRow,
  type CodeUse,
  type GrantStart,
  type HotPath,
  type Rotation,
  type UsedAssertion,
} from '../hot-path.js';
import { ACCESS_TOKEN, AUTHORIZATION_CODE, GRANT, REFRESH_TOKEN, USED_ASSERTION, column, quote, valuesOf, type Table } from '../sql.js';

/** How Prisma's SQLite adapter stores a DateTime (its default "iso8601" format). */
const stored = (date: Date) => date.toISOString().replace('Z', '+00:00');

/** The SQLite file a `file:` URL names, resolved against the working directory. */
export function sqlitePath(databaseUrl: string): string {
  const path = databaseUrl.slice('file:'.length).split('?')[0]!;
  if (path === '') throw new Error('DATABASE_URL file: needs a path');
  return resolve(path);
}

function adapterFactory(databaseUrl: string): PrismaBetterSqlite3 {
  const path = sqlitePath(databaseUrl);
  // Private from the start: the folder 0700, the file 0600 (SQLite gives its -wal and -shm files
  // the database file's permissions). An existing file keeps the permissions its operator chose.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) writeFileSync(path, '', { mode: 0o600, flag: 'a' });
  // timeout: how long a writer waits for another process's lock (the CLI, a second server).
  return new PrismaBetterSqlite3({ url: path, timeout: 10_000 });
}

const insertSql = (table: Table) =>
  `INSERT INTO ${quote(table.name)} (${table.insert.map(quote).join(', ')}) VALUES (${table.insert.map(() => '?').join(', ')})`;

const r = column(REFRESH_TOKEN);
const g = column(GRANT);
const c = column(AUTHORIZATION_CODE);

/**
 * The hot-path statements, prepared once and run on Prisma's own connection: one connection means
 * one view of the file and no lock contention between two. better-sqlite3 is synchronous, so each
 * transaction begins and commits within one turn of the event loop; the only care needed is not to
 * begin while Prisma has a transaction of its own open on the connection (Prisma awaits between
 * its statements).
 */
class SqliteHotPath implements HotPath {
  private readonly insertAccess: BetterSqlite3.Statement;
  private readonly insertCode: BetterSqlite3.Statement;
  private readonly consumeCode: BetterSqlite3.Statement;
  private readonly consume: BetterSqlite3.Statement;
  private readonly insertRefresh: BetterSqlite3.Statement;
  private readonly extendGrant: BetterSqlite3.Statement;
  private readonly insertGrant: BetterSqlite3.Statement;
  private readonly findRefresh: BetterSqlite3.Statement<[string], Record<string, unknown>>;
  private readonly insertAssertion: BetterSqlite3.Statement;
  readonly insertAccessTokens: (tokens: NewAccessToken[]) => Promise<void>;
  readonly insertCodes: (codes: NewAuthorizationCode[]) => Promise<void>;
  readonly consumeCodes: (uses: CodeUse[], now: Date) => Promise<boolean[]>;
  readonly startGrants: (starts: GrantStart[], now: Date) => Promise<void>;
  readonly rotate: (rotations: Rotation[], now: Date) => Promise<boolean[]>;
  readonly recordAssertions: (used: UsedAssertion[]) => Promise<Set<string>>;

  constructor(private readonly connection: BetterSqlite3.Database) {
    this.insertAccess = connection.prepare(insertSql(ACCESS_TOKEN));
    this.insertCode = connection.prepare(insertSql(AUTHORIZATION_CODE));
    this.consumeCode = connection.prepare(
      `UPDATE ${quote(AUTHORIZATION_CODE.name)} SET ${c('consumedAt')} = ?, ${c('grantId')} = ? WHERE ${c('digest')} = ? AND ${c('consumedAt')} IS NULL`,
    );
    this.insertRefresh = connection.prepare(insertSql(REFRESH_TOKEN));
    this.insertGrant = connection.prepare(insertSql(GRANT));
    this.consume = connection.prepare(
      `UPDATE ${quote(REFRESH_TOKEN.name)} SET ${r('consumedAt')} = ? WHERE ${r('digest')} = ? AND ${r('consumedAt')} IS NULL AND ${r('revokedAt')} IS NULL`,
    );
    this.extendGrant = connection.prepare(
      `UPDATE ${quote(GRANT.name)} SET ${g('expiresAt')} = ? WHERE ${g('id')} = ? AND ${g('expiresAt')} < ?`,
    );
    this.findRefresh = connection.prepare<[string], Record<string, unknown>>(findRefreshSql('?'));
    this.insertAssertion = connection.prepare(`${insertSql(USED_ASSERTION)} ON CONFLICT DO NOTHING`);

    this.insertAccessTokens = this.batchWriter((tokens: NewAccessToken[]) => {
      for (const token of tokens) this.insertAccessRow(token);
    });
    this.insertCodes = this.batchWriter((codes: NewAuthorizationCode[]) => {
      for (const code of codes) this.insertCode.run(valuesOf(AUTHORIZATION_CODE, code, stored));
    });
    this.consumeCodes = this.batchWriter((uses: CodeUse[], now: Date) =>
      uses.map((use) => this.consumeCode.run(stored(now), use.grantId, use.digest).changes === 1),
    );
    this.startGrants = this.batchWriter((starts: GrantStart[], now: Date) => {
      for (const start of starts) this.startOne(start, now);
    });
    this.rotate = this.batchWriter((rotations: Rotation[], now: Date) => rotations.map((rotation) => this.rotateOne(rotation, now)));
    this.recordAssertions = this.batchWriter(
      (used: UsedAssertion[]) =>
        new Set(used.filter((row) => this.insertAssertion.run(valuesOf(USED_ASSERTION, row, stored)).changes === 1).map((row) => row.key)),
    );
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

  findRefreshToken(digest: string) {
    return this.whenIdle(() => {
      const row = this.findRefresh.get(digest);
      return row ? refreshRecordFrom(row, (value) => new Date(value as string)) : null;
    });
  }

  private insertAccessRow(token: NewAccessToken): void {
    this.insertAccess.run(valuesOf(ACCESS_TOKEN, token, stored));
  }

  private startOne({ grant, refresh, access }: GrantStart, now: Date): void {
    this.insertGrant.run(valuesOf(GRANT, { ...grant, createdAt: now }, stored));
    this.insertRefresh.run(valuesOf(REFRESH_TOKEN, refreshRow(refresh, grant.id, now), stored));
    if (access) this.insertAccessRow(access);
  }

  private rotateOne(rotation: Rotation, now: Date): boolean {
    if (this.consume.run(stored(now), rotation.usedDigest).changes !== 1) return false;
    this.insertRefresh.run(valuesOf(REFRESH_TOKEN, successorRow(rotation, now), stored));
    if (rotation.access) this.insertAccessRow(rotation.access);
    this.extendGrant.run(stored(rotation.grantExtendedTo), rotation.grantId, stored(rotation.grantExpiresAt));
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

async function open(databaseUrl: string): Promise<Database> {
  const factory = adapterFactory(databaseUrl);
  // The adapter opens its better-sqlite3 connection itself and keeps it as `client`; the hot path
  // borrows it. Checked at start, so an adapter upgrade that changes this fails loudly, not subtly.
  let connection: BetterSqlite3.Database | undefined;
  const borrowing: SqlDriverAdapterFactory = {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => {
      const adapter = await factory.connect();
      const client: unknown = (adapter as unknown as { client?: unknown }).client;
      if (!(client instanceof BetterSqlite3)) throw new Error('@prisma/adapter-better-sqlite3 no longer exposes its connection');
      connection = client;
      return adapter;
    },
  };
  const db = new PrismaClient({ adapter: borrowing });
  await db.$connect();
  if (!connection) throw new Error('the SQLite connection did not open');
  // WAL lets readers run beside the writer; synchronous=FULL keeps every committed token
  // through a power cut, which is the durability the contract promises.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma('foreign_keys = ON');
  return { db, hotPath: new SqliteHotPath(connection), close: () => db.$disconnect(), warnings: [] };
}

export const sqlite: DialectModule = {
  name: 'sqlite',
  open,
  migrationAdapter: adapterFactory,
  localFile: sqlitePath,
  // Other processes poll the ChangeEvent rows; there is nothing more to send.
  announce: () => [],
  // One writer at a time: ids commit in order already.
  orderRevocations: () => [],

  /** With a single writer, row ids commit in order, so reading "id > last seen" misses nothing. */
  async follow(db, listener, { pollMs, onError }) {
    const newest = await db.changeEvent.findFirst({ orderBy: { id: 'desc' }, select: { id: true } });
    let lastId = newest?.id ?? 0;
    let failing = false;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      try {
        const rows = await db.changeEvent.findMany({ where: { id: { gt: lastId } }, orderBy: { id: 'asc' }, take: 1000 });
        if (failing) listener.onReset();
        failing = false;
        for (const row of rows) {
          lastId = row.id;
          const change = decodeChange(row.kind, row.subject);
          if (change) listener.onChange(change);
        }
      } catch (error) {
        if (!failing) onError(error);
        failing = true;
      }
      if (!stopped) timer = setTimeout(() => void tick(), pollMs).unref();
    };
    timer = setTimeout(() => void tick(), pollMs).unref();
    return async () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
};
