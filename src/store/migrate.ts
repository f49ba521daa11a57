// Applies the migrations under prisma/<dialect>/migrations (Prisma's own layout and
// _prisma_migrations table, so the native `prisma migrate deploy` accepts the database too).
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type { Dialect } from '../config.js';
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

/** Names of migrations in the folder that the database has not finished applying. */
async function pendingMigrations(factory: SqlMigrationAwareDriverAdapterFactory, dialect: Dialect): Promise<string[]> {
  const all = readMigrations(dialect).migrationDirectories.map((d) => d.path);
  const adapter = await factory.connect();
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
 * Applies what is pending. An up-to-date database is recognised with one query, without the
 * schema engine, which would lock an SQLite file exclusively: so a second server, or the admin
 * command, can start beside a running server.
 */
export async function applyMigrations(databaseUrl: string): Promise<string[]> {
  const { name: dialect, migrationAdapter } = dialectFor(databaseUrl);
  const factory = migrationAdapter(databaseUrl);
  if ((await pendingMigrations(factory, dialect)).length === 0) return [];
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
