// Turns DATABASE_URL into a Prisma driver adapter factory. Only src/store/ talks to the database.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type { PoolConfig } from 'pg';
import { dialectOf, type Dialect } from '../config.js';

/** The SQLite file a `file:` URL names, resolved against the working directory. */
export function sqlitePath(databaseUrl: string): string {
  const path = databaseUrl.slice('file:'.length).split('?')[0]!;
  if (path === '') throw new Error('DATABASE_URL file: needs a path');
  return resolve(path);
}

/** Discrete connection fields: adapter-pg's shadow database override needs them (not a URL). */
export function pgPoolConfig(databaseUrl: string): PoolConfig {
  const url = new URL(databaseUrl);
  const sslmode = url.searchParams.get('sslmode');
  return {
    host: decodeURIComponent(url.hostname) || '127.0.0.1',
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username) || undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    ssl: sslmode && sslmode !== 'disable' ? { rejectUnauthorized: sslmode === 'verify-full' } : undefined,
    max: Number(url.searchParams.get('connection_limit') ?? 10),
    // Idle pooled connections must not keep a finished process (the admin command) alive.
    allowExitOnIdle: true,
  };
}

export type AdapterFactory = PrismaBetterSqlite3 | PrismaPg;

export function sqliteAdapterFactory(databaseUrl: string): PrismaBetterSqlite3 {
  const path = sqlitePath(databaseUrl);
  mkdirSync(dirname(path), { recursive: true });
  // timeout: how long a writer waits for another process's lock (the CLI, a second server).
  return new PrismaBetterSqlite3({ url: path, timeout: 10_000 });
}

export function adapterFactory(databaseUrl: string): { dialect: Dialect; factory: AdapterFactory } {
  const dialect = dialectOf(databaseUrl);
  const factory = dialect === 'sqlite' ? sqliteAdapterFactory(databaseUrl) : new PrismaPg(pgPoolConfig(databaseUrl));
  return { dialect, factory };
}
