// Starts a real Tessera for one test: its own database (an SQLite file, or a PostgreSQL database
// made for it and dropped after), real migrations, a real Fastify app driven with app.inject.
// The dialect comes from TESSERA_TEST_DIALECT (sqlite by default), set by scripts/test.mjs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Logger } from 'pino';
import type { Test } from 'tap';
import { loadConfig, type Config, type Dialect } from '../../src/config.ts';
import { buildAdminApp, buildApp } from '../../src/app.ts';
import { Metrics } from '../../src/metrics.ts';
import { createLogger } from '../../src/logger.ts';
import { Tessera } from '../../src/tessera.ts';
import { pgPoolConfig } from '../../src/store/dialects/postgresql.ts';
import type { ClientRegistration } from '../../src/domain/clients.ts';

export const dialect: Dialect = process.env.TESSERA_TEST_DIALECT === 'postgresql' ? 'postgresql' : 'sqlite';
export const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const ISSUER = 'http://localhost:3000';

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client(pgPoolConfig(PG_ADMIN_URL));
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  dataDir: string;
}

/** A database of the test's own, removed when the test ends. */
export async function testDatabase(t: Test): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  if (dialect === 'sqlite') return { url: `file:${join(dataDir, 'tessera.db')}`, dataDir };
  const name = `tessera_test_${process.env.TESSERA_TEST_RUN ?? 'x'}_${randomBytes(5).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  t.teardown(() => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), dataDir };
}

export function testConfig(db: TestDatabase, env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: db.url,
    TESSERA_DATA_DIR: db.dataDir,
    TESSERA_SECRET: 'test-secret-test-secret-test-secret-0123',
    TESSERA_ISSUER: ISSUER,
    TESSERA_PRUNE_INTERVAL_MS: '0',
    TESSERA_CHANGE_POLL_MS: '50',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
}

export interface Running {
  app: FastifyInstance;
  /** The admin listener's app (/metrics), sharing the public app's metrics. */
  admin: FastifyInstance;
  tessera: Tessera;
  config: Config;
  db: TestDatabase;
}

/** One server instance on `db` (a new database when none is given), logging to `log` when given. */
export async function startTessera(
  t: Test,
  options: { db?: TestDatabase; env?: Record<string, string>; log?: Logger } = {},
): Promise<Running> {
  const db = options.db ?? (await testDatabase(t));
  const config = testConfig(db, options.env);
  const log = options.log ?? createLogger(config.logLevel ?? 'silent');
  const tessera = await Tessera.open(config, log, { background: true, schema: 'apply' });
  const metrics = new Metrics();
  const app = await buildApp(tessera, metrics);
  const admin = await buildAdminApp(tessera, metrics);
  t.teardown(async () => {
    await Promise.all([app.close(), admin.close()]);
    await tessera.close();
  });
  return { app, admin, tessera, config, db };
}

export async function registerClient(tessera: Tessera, registration: Partial<ClientRegistration> = {}) {
  const { client, secret } = await tessera.clients.register({ name: 'test client', ...registration });
  return { id: client.id, secret: secret ?? undefined, client };
}

export async function registerUser(tessera: Tessera, username = 'alice', password = 'correct horse battery') {
  const user = await tessera.users.create(username, `${username}@example.com`, password);
  return { user, username, password };
}

export function basic(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/** POSTs a form (or JSON with `json: true`) and returns the response with its parsed body. */
export async function post(
  app: FastifyInstance,
  url: string,
  form: Record<string, string | string[]>,
  options: { headers?: Record<string, string>; json?: boolean } = {},
): Promise<LightMyRequestResponse & { body_: Record<string, unknown> }> {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(form)) for (const v of [value].flat()) params.append(key, v);
  const response = await app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': options.json ? 'application/json' : 'application/x-www-form-urlencoded', ...options.headers },
    payload: options.json ? JSON.stringify(form) : params.toString(),
  });
  let body_: Record<string, unknown>;
  try {
    body_ = response.body ? (JSON.parse(response.body) as Record<string, unknown>) : {};
  } catch {
    body_ = { raw: response.body };
  }
  return Object.assign(response, { body_ });
}

/** Client credentials for a token request: Basic header for a confidential client, else client_id in the body. */
export function clientAuth(client: { id: string; secret?: string }): { form: Record<string, string>; headers: Record<string, string> } {
  return client.secret
    ? { form: {}, headers: { authorization: basic(client.id, client.secret) } }
    : { form: { client_id: client.id }, headers: {} };
}

export async function tokenRequest(app: FastifyInstance, client: { id: string; secret?: string }, form: Record<string, string>) {
  const auth = clientAuth(client);
  return post(app, '/token', { ...auth.form, ...form }, { headers: auth.headers });
}

/** The error `run` throws, or undefined (for checking an error's class, which t.throws cannot). */
export function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
