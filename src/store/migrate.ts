// Applies the migrations under prisma/<dialect>/migrations (Prisma's own layout and
// _prisma_migrations table, so the native `prisma migrate deploy` accepts the database too), tells
// which are pending without applying them, and refuses a database that is not there: only `serve`
// and `migrate` may create one (opening a missing SQLite file would).
import { existsSync } from 'node:fs';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { ConfigError, type Dialect } from '../config.js';
import { dialectFor } from './dialects/index.js';
import { NO_FILTERS, openSchemaEngine, readMigrations } from './schema-engine.js';

/** Wraps a factory so that every connection it opens can be closed: the engine leaves them open. */
export function closingFactory(inner: SqlMigrationAwareDriverAdapterFactory) {
  const opened: SqlDriverAdapter[] = [];
  const track = async (connect: Promise<SqlDriverAdapter>) => {
    const adapter = await connect;
    opened.push(adapter);
    return adapter;
  };
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: () => track(inner.connect()),
    connectToShadowDb: () => track(inner.connectToShadowDb()),
  };
  const closeAll = async () => {
    await Promise.allSettled(opened.splice(0).map((a) => a.dispose()));
  };
  return { factory, closeAll };
}

/** Where a database is, for a message: its file, or its server's host (never the whole URL: it may hold a password). */
function whereIs(databaseUrl: string): string {
  return dialectFor(databaseUrl).localFile?.(databaseUrl) ?? (new URL(databaseUrl).host || 'localhost');
}

/** A failure to connect, in one line that says what is wrong (a driver adapter's error says only its kind). */
function connectionFailure(error: unknown, databaseUrl: string): Error {
  const cause = (error as { cause?: { kind?: unknown; db?: unknown; originalMessage?: unknown } } | null)?.cause;
  if (cause?.kind === 'DatabaseDoesNotExist') {
    return new ConfigError(
      `no database "${String(cause.db)}" on ${whereIs(databaseUrl)} (DATABASE_URL): create it, then run \`tessera migrate\``,
    );
  }
  if (cause?.kind === 'DatabaseNotReachable')
    return new Error(`cannot reach the database server at ${whereIs(databaseUrl)} (DATABASE_URL)`, { cause: error });
  if (typeof cause?.originalMessage === 'string')
    return new Error(`cannot use the database at ${whereIs(databaseUrl)}: ${cause.originalMessage}`, { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

/** A connection that has run a statement: a database that is missing or out of reach is one clear error here. */
async function connect(factory: SqlMigrationAwareDriverAdapterFactory, databaseUrl: string): Promise<SqlDriverAdapter> {
  let adapter: SqlDriverAdapter | undefined;
  try {
    adapter = await factory.connect();
    await adapter.queryRaw({ sql: 'SELECT 1', args: [], argTypes: [] });
    return adapter;
  } catch (error) {
    await adapter?.dispose().catch(() => {});
    throw connectionFailure(error, databaseUrl);
  }
}

const migrationNames = (dialect: Dialect) => readMigrations(dialect).migrationDirectories.map((d) => d.path);

/** Names of migrations in the folder that the database has not finished applying. */
async function pendingMigrations(factory: SqlMigrationAwareDriverAdapterFactory, dialect: Dialect, databaseUrl: string): Promise<string[]> {
  const all = migrationNames(dialect);
  const adapter = await connect(factory, databaseUrl);
  try {
    const result = await adapter.queryRaw({
      sql: 'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
      args: [],
      argTypes: [],
    });
    const applied = new Set(result.rows.map((row) => String(row[0])));
    return all.filter((name) => !applied.has(name));
  } catch {
    return all; // no _prisma_migrations table yet: a new database
  } finally {
    await adapter.dispose();
  }
}

/**
 * Refuses a database that does not exist, creating nothing: an SQLite file that is not there, or
 * a PostgreSQL database the server does not have. For every command but `serve` and `migrate`.
 */
export async function requireDatabase(databaseUrl: string): Promise<void> {
  const dialect = dialectFor(databaseUrl);
  const file = dialect.localFile?.(databaseUrl);
  if (file !== undefined) {
    if (!existsSync(file))
      throw new ConfigError(`no database at ${file} (DATABASE_URL); run \`tessera migrate\` or \`tessera serve\` first`);
    return;
  }
  await (await connect(dialect.migrationAdapter(databaseUrl), databaseUrl)).dispose();
}

/**
 * The migrations the database lacks, applying none and creating nothing: all of them for an empty
 * database, or an SQLite file that is not there yet.
 */
export async function unappliedMigrations(databaseUrl: string): Promise<string[]> {
  const { name: dialect, migrationAdapter, localFile } = dialectFor(databaseUrl);
  const file = localFile?.(databaseUrl);
  if (file !== undefined && !existsSync(file)) return migrationNames(dialect);
  return pendingMigrations(migrationAdapter(databaseUrl), dialect, databaseUrl);
}

/**
 * Applies what is pending. An up-to-date database is recognised with one query, without the
 * schema engine, which would lock an SQLite file exclusively: so a second server, or the admin
 * command, can start beside a running server.
 */
export async function applyMigrations(databaseUrl: string): Promise<string[]> {
  const { name: dialect, migrationAdapter } = dialectFor(databaseUrl);
  const factory = migrationAdapter(databaseUrl);
  if ((await pendingMigrations(factory, dialect, databaseUrl)).length === 0) return [];
  const { factory: closing, closeAll } = closingFactory(factory);
  const { engine, explain } = await openSchemaEngine(dialect, closing);
  try {
    const result = await engine.applyMigrations({ migrationsList: readMigrations(dialect), filters: NO_FILTERS });
    return result.appliedMigrationNames;
  } catch (error) {
    const explained = explain(error);
    if (/SQLITE_BUSY|SocketTimeout/.test(explained.message)) {
      // The schema engine locks an SQLite file exclusively, which it cannot while a server has it open.
      throw new Error('the SQLite database is in use by another process; stop the server (it applies migrations itself when it starts)', {
        cause: error,
      });
    }
    throw explained;
  } finally {
    engine.free();
    await closeAll();
  }
}
