// What a database dialect provides, behind one interface: opening the database (Prisma with its
// driver adapter, and the hot path's raw statements beside it), the adapter the migration engine
// drives, and how changes travel between instances. One module per dialect in dialects/; a third
// backend is one more file there and a line in dialects/index.ts.
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type { Dialect } from '../config.js';
import type { PrismaClient, Prisma } from '../generated/sqlite/client.ts';
import type { Change, ChangeListener } from './changes.js';
import type { HotPath } from './hot-path.js';

/**
 * The Prisma client. Both dialects' clients are generated from one model file
 * (prisma/models.prisma) and expose the same model API, so the store is typed against the SQLite
 * client's types and receives either.
 */
export type Db = PrismaClient;

export interface Database {
  db: Db;
  hotPath: HotPath;
  close(): Promise<void>;
  /** What the operator should hear once at start, such as a connection whose certificate goes unchecked. */
  warnings: string[];
}

export interface FeedOptions {
  databaseUrl: string;
  /** How often a dialect without notifications reads new change rows. */
  pollMs: number;
  onError: (error: unknown) => void;
}

export interface DialectModule {
  readonly name: Dialect;
  /** onError hears of failures nobody awaits, such as a pooled connection the server dropped. */
  open(databaseUrl: string, onError: (error: unknown) => void): Promise<Database>;
  /** A fresh adapter factory for the schema engine (migrations). */
  migrationAdapter(databaseUrl: string): SqlMigrationAwareDriverAdapterFactory;
  /** The file the database is, for a dialect that keeps one: opening a missing one creates it. */
  localFile?(databaseUrl: string): string;
  /** Statements that announce the changes, run in the same transaction as the changes themselves. */
  announce(db: Db, changes: Change[]): Prisma.PrismaPromise<unknown>[];
  /**
   * A statement run first in every transaction that writes the revocation log, so that its rows
   * commit in id order: the stream reads "id > last sent" and must never see a later id first.
   */
  orderRevocations(db: Db): Prisma.PrismaPromise<unknown>[];
  /** Delivers changes committed by other processes from now on; resolves to a function that stops it. */
  follow(db: Db, listener: ChangeListener, options: FeedOptions): Promise<() => Promise<void>>;
}
