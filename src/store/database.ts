// Opens the Prisma client for the configured dialect, and the hot-path statements on the same
// connection (SQLite) or pool (PostgreSQL). Both dialects' clients are generated from one model
// file (prisma/models.prisma), so they expose the same model API; the rest of the code is typed
// against the SQLite client's types and receives either.
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaClient as SqliteClient } from '../generated/sqlite/client.ts';
import { PrismaClient as PostgresClient } from '../generated/postgresql/client.ts';
import { dialectOf, type Dialect } from '../config.js';
import { pgPoolConfig, sqliteAdapterFactory } from './connection.js';
import type { HotPath } from './hot-path.js';
import { SqliteHotPath } from './hot-path-sqlite.js';
import { PostgresHotPath } from './hot-path-postgres.js';

export type Db = SqliteClient;

export interface Database {
  db: Db;
  dialect: Dialect;
  hotPath: HotPath;
  close(): Promise<void>;
}

/** onError hears of failures nobody awaits, such as a pooled connection the server dropped. */
export function openDatabase(databaseUrl: string, onError: (error: unknown) => void = () => {}): Promise<Database> {
  return dialectOf(databaseUrl) === 'sqlite' ? openSqlite(databaseUrl) : openPostgres(databaseUrl, onError);
}

async function openSqlite(databaseUrl: string): Promise<Database> {
  const factory = sqliteAdapterFactory(databaseUrl);
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
  const db = new SqliteClient({ adapter: borrowing });
  await db.$connect();
  if (!connection) throw new Error('the SQLite connection did not open');
  // WAL lets readers run beside the writer; synchronous=FULL keeps every committed token
  // through a power cut, which is the durability the contract promises.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma('foreign_keys = ON');
  return { db, dialect: 'sqlite', hotPath: new SqliteHotPath(connection), close: () => db.$disconnect() };
}

async function openPostgres(databaseUrl: string, onError: (error: unknown) => void): Promise<Database> {
  const pool = new pg.Pool(pgPoolConfig(databaseUrl));
  // An idle connection the server terminated (a restart, a failover) is dropped from the pool and
  // replaced on next use; unheard, its error would end the process.
  pool.on('error', onError);
  const db = new PostgresClient({ adapter: new PrismaPg(pool) }) as unknown as Db;
  await db.$connect();
  const close = async () => {
    await db.$disconnect();
    await pool.end();
  };
  return { db, dialect: 'postgresql', hotPath: new PostgresHotPath(pool), close };
}
