// Prisma's schema engine, in its WASM build, driven through a driver adapter: the native engine
// cannot be downloaded on machines without internet access, and this build needs no download.
// Used to apply migrations (at start and by `tessera migrate`) and, in development, to create them.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine, MigrationList } from '@prisma/schema-engine-wasm';
import type { Dialect } from '../config.js';

/** The checkout: the folder holding prisma/models.prisma, above this file (src/store/ or dist/). */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'prisma', 'models.prisma'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find prisma/models.prisma above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

const root = projectRoot();
export const prismaDir = (dialect: Dialect) => join(root, 'prisma', dialect);

export const NO_FILTERS = { externalTables: [], externalEnums: [] };

/** Node 20 cannot import a .wasm module, so the wasm-bindgen glue is wired up by hand. */
async function loadEngineModule() {
  const require = createRequire(import.meta.url);
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const glue = await import(gluePath);
  const wasm = readFileSync(join(dirname(gluePath), 'schema_engine_bg.wasm'));
  // The engine arms 10 s timers that it never clears; unref'd, they do not hold a finished process.
  const imports: Record<string, unknown> = { ...glue };
  for (const name of Object.keys(imports).filter((n) => n.startsWith('__wbg_setTimeout_'))) {
    imports[name] = (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref();
  }
  const { instance } = await WebAssembly.instantiate(wasm, { './schema_engine_bg.js': imports as WebAssembly.ModuleImports });
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports as { __wbindgen_start: () => void }).__wbindgen_start();
  return glue as { SchemaEngine: typeof SchemaEngine };
}

let engineModule: ReturnType<typeof loadEngineModule> | undefined;

export interface OpenEngine {
  engine: SchemaEngine;
  schemaPath: string;
  schemaText: string;
  /** Unwraps the engine's "External error id#N" into the adapter's real error. */
  explain(error: unknown): Error;
}

export async function openSchemaEngine(dialect: Dialect, factory: SqlMigrationAwareDriverAdapterFactory): Promise<OpenEngine> {
  engineModule ??= loadEngineModule();
  const { SchemaEngine } = await engineModule;
  const schemaPath = join(prismaDir(dialect), 'schema.prisma');
  const schemaText = readFileSync(schemaPath, 'utf8');
  const bound = bindMigrationAwareSqlAdapterFactory(factory);
  const engine = await SchemaEngine.new({ datamodels: [[schemaPath, schemaText]] }, () => {}, bound);
  const explain = (error: unknown): Error => {
    const message = error instanceof Error ? error.message : String(error);
    const id = /External error id#(\d+)/.exec(message)?.[1];
    const record = id ? bound.errorRegistry.consumeError(Number(id)) : undefined;
    if (record) return new Error(`${message}: ${JSON.stringify(record.error)}`);
    return error instanceof Error ? error : new Error(message);
  };
  return { engine, schemaPath, schemaText, explain };
}

/** The migrations folder of a dialect, read as the engine wants it. */
export function readMigrations(dialect: Dialect): MigrationList {
  const baseDir = join(prismaDir(dialect), 'migrations');
  const lockPath = join(baseDir, 'migration_lock.toml');
  const dirs = existsSync(baseDir)
    ? readdirSync(baseDir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort()
    : [];
  return {
    baseDir,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: dirs.map((name) => ({
      path: name,
      migrationFile: {
        path: 'migration.sql',
        content: { tag: 'ok' as const, value: readFileSync(join(baseDir, name, 'migration.sql'), 'utf8') },
      },
    })),
  };
}
