// What the schema still needs beyond the migrations folder of a dialect, found with the WASM
// schema engine on a scratch database of its own (a temp SQLite file; a new PostgreSQL database
// made through PG_ADMIN_URL, default postgresql://postgres@127.0.0.1:5432/postgres), dropped after.
// Used by scripts/migrations.ts and by the test that keeps the migrations in step with the schema.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils';
import type { Dialect } from '../src/config.js';
import { pgPoolConfig } from '../src/store/dialects/postgresql.js';
import { closingFactory } from '../src/store/migrate.js';
import { NO_FILTERS, openSchemaEngine, readMigrations } from '../src/store/schema-engine.js';

const adminUrl = process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** better-sqlite3 refuses multi-statement SQL in executeRaw, which the engine sends when it applies or replays migrations. */
function scriptTolerant(adapter: SqlDriverAdapter): SqlDriverAdapter {
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      if (prop === 'executeRaw') {
        return async (query: SqlQuery) => {
          if (query.args.length > 0) return target.executeRaw(query);
          await target.executeScript(query.sql);
          return 0;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** adapter-pg rejects the "char" type (OID 18) that the engine's catalogue queries return. */
function readCharAsText(adapter: object) {
  let proto = Object.getPrototypeOf(adapter);
  while (proto && !Object.hasOwn(proto, 'performIO')) proto = Object.getPrototypeOf(proto);
  if (!proto || proto.__charAsText) return;
  const original = proto.performIO;
  proto.performIO = async function (this: unknown, ...args: unknown[]) {
    const result = await original.apply(this, args);
    for (const field of result.fields ?? []) if (field.dataTypeID === 18) field.dataTypeID = 25;
    return result;
  };
  proto.__charAsText = true;
}

interface Scratch {
  factory: SqlMigrationAwareDriverAdapterFactory;
  drop(): Promise<void>;
}

async function sqliteScratch(): Promise<Scratch> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-migrations-'));
  const inner = new PrismaBetterSqlite3({ url: join(dir, 'scratch.db') });
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => scriptTolerant(await inner.connect()),
    connectToShadowDb: async () => scriptTolerant(await inner.connectToShadowDb()),
  };
  return { factory, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

async function pgScratch(): Promise<Scratch> {
  const admin = pgPoolConfig(adminUrl);
  const name = `tessera_migrations_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const client = new pg.Client(admin);
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE "${name}"`);
  const shadows: string[] = [];
  const inner = new PrismaPg({ ...admin, database: name });
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => {
      const adapter = await inner.connect();
      readCharAsText(adapter);
      return adapter;
    },
    // PrismaPg drops its shadow database before closing the pool on it; do both in order here.
    connectToShadowDb: async () => {
      const shadow = `${name}_shadow${shadows.length}`;
      shadows.push(shadow);
      await run(`CREATE DATABASE "${shadow}"`);
      const adapter = await new PrismaPg({ ...admin, database: shadow }).connect();
      readCharAsText(adapter);
      return adapter;
    },
  };
  return {
    factory,
    drop: async () => {
      for (const db of [...shadows, name]) await run(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    },
  };
}

/** Returns the migration the schema still needs, or null when the migrations are in step. */
export async function pendingMigration(dialect: Dialect, migrationName: string) {
  const scratch = dialect === 'sqlite' ? await sqliteScratch() : await pgScratch();
  const { factory, closeAll } = closingFactory(scratch.factory);
  const { engine, schemaPath, schemaText, explain } = await openSchemaEngine(dialect, factory);
  try {
    const migrationsList = readMigrations(dialect);
    await engine.applyMigrations({ migrationsList, filters: NO_FILTERS });
    const diagnostic = await engine.devDiagnostic({ migrationsList, filters: NO_FILTERS });
    if (diagnostic.action.tag === 'reset') throw new Error(`${dialect}: migrations need a reset: ${diagnostic.action.reason}`);
    const created = await engine.createMigration({
      draft: false,
      migrationName,
      migrationsList,
      schema: { files: [{ path: schemaPath, content: schemaText }] },
      filters: NO_FILTERS,
    });
    return created.generatedMigrationName && created.migrationScript ? created : null;
  } catch (error) {
    throw explain(error);
  } finally {
    engine.free();
    await closeAll();
    await scratch.drop();
  }
}
