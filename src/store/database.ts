// Opens the Prisma client for the configured dialect. Both dialects' clients are generated from
// one model file (prisma/models.prisma), so they expose the same model API; the rest of the code
// is typed against the SQLite client's types and receives either.
import { PrismaClient as SqliteClient } from '../generated/sqlite/client.ts';
import { PrismaClient as PostgresClient } from '../generated/postgresql/client.ts';
import type { Dialect } from '../config.js';
import { adapterFactory } from './connection.js';

export type Db = SqliteClient;

export interface Database {
  db: Db;
  dialect: Dialect;
  close(): Promise<void>;
}

export async function openDatabase(databaseUrl: string): Promise<Database> {
  const { dialect, factory } = adapterFactory(databaseUrl);
  const db = dialect === 'sqlite' ? new SqliteClient({ adapter: factory }) : (new PostgresClient({ adapter: factory }) as unknown as Db);
  await db.$connect();
  if (dialect === 'sqlite') {
    // WAL lets readers run beside the writer; synchronous=FULL keeps every committed token
    // through a power cut, which is the durability the contract promises.
    await db.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    await db.$executeRawUnsafe('PRAGMA synchronous = FULL');
    await db.$executeRawUnsafe('PRAGMA foreign_keys = ON');
  }
  return { db, dialect, close: () => db.$disconnect() };
}
