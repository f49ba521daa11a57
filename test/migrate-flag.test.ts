// TESSERA_MIGRATE=false: `serve` applies no migration and refuses an out-of-date schema, so that
// `tessera migrate` can run as its own step. And only `serve` and `migrate` create a database: every
// other command refuses a missing one, or one whose schema is not up to date, and creates nothing.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.ts';
import { pgPoolConfig } from '../src/store/dialects/postgresql.ts';
import { sqlitePath } from '../src/store/dialects/sqlite.ts';
import { unappliedMigrations } from '../src/store/migrate.ts';
import { bin, cli, cliEnv, failsClearly, type Run } from './helpers/cli.ts';
import { dialect, ISSUER, testDatabase, type TestDatabase } from './helpers/harness.ts';
import { freePort, startServer } from './helpers/server-process.ts';

const SECRET = 'migrate-flag-secret-migrate-flag-secret-01';
const OUT_OF_DATE = /the database schema is not up to date \(\d+ migrations? not applied\): run `tessera migrate` first/;

/** `tessera serve` expected to stop by itself: its exit status and output (killed after 30 s). */
async function serveUntilExit(env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, [bin, 'serve'], {
    env: { ...process.env, LOG_LEVEL: 'info', TESSERA_ADMIN_PORT: '0', PORT: String(await freePort()), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Forgets the newest applied migration, as a database last migrated by an older Tessera would look. */
async function forgetNewestMigration(db: TestDatabase): Promise<void> {
  const sql = 'DELETE FROM _prisma_migrations WHERE migration_name = (SELECT MAX(migration_name) FROM _prisma_migrations)';
  if (dialect === 'sqlite') {
    const connection = new BetterSqlite3(sqlitePath(db.url));
    connection.prepare(sql).run();
    connection.close();
    return;
  }
  const client = new pg.Client(pgPoolConfig(db.url));
  await client.connect();
  await client.query(sql);
  await client.end();
}

t.test('TESSERA_MIGRATE=false', async (t) => {
  const db = await testDatabase(t);
  const env = { ...cliEnv(db, SECRET), TESSERA_MIGRATE: 'false' };

  t.test('serve refuses a fresh database, in one line naming `tessera migrate`', async (t) => {
    const run = await serveUntilExit(env);
    failsClearly(t, run, OUT_OF_DATE);
    t.equal(run.stderr.trim().split('\n').length, 1, 'one line');
    t.notMatch(run.stdout, /tessera is serving/);
    if (dialect === 'sqlite') t.notOk(existsSync(sqlitePath(db.url)), 'and creates no database file');
    t.ok((await unappliedMigrations(db.url)).length > 0, 'nothing was applied');
  });

  t.test('after `tessera migrate`, it starts', async (t) => {
    const migrated = await cli(env, ['migrate']);
    t.equal(migrated.code, 0, migrated.stderr);
    t.match(migrated.stdout, /applied: \d+_init/);
    const server = await startServer(t, { ...env, TESSERA_MIGRATE: 'off' });
    const health = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'from-the-balancer' } });
    t.equal(health.status, 200);
    t.equal(health.headers.get('x-request-id'), 'from-the-balancer', 'the request id is echoed over HTTP');
    t.notOk(
      server.log.some((line) => line.includes('database schema upgraded')),
      'it applied nothing',
    );
    await server.stop('SIGTERM');
  });

  t.test('a schema an older Tessera left is refused by serve and by every admin command', async (t) => {
    await forgetNewestMigration(db);
    failsClearly(t, await serveUntilExit(env), /not up to date \(1 migration not applied\): run `tessera migrate`/);
    const runs = await Promise.all([cli(env, ['client', 'list']), cli(env, ['user', 'list']), cli(env, ['keys', 'list'])]);
    for (const run of runs) failsClearly(t, run, /not up to date \(1 migration not applied\): run `tessera migrate`/);
    t.equal((await unappliedMigrations(db.url)).length, 1, 'the admin command upgraded nothing on the way');
  });
});

t.test('TESSERA_MIGRATE takes every boolean spelling, and defaults to true', async (t) => {
  t.equal(loadConfig({}).migrate, true);
  for (const value of ['true', '1', 'yes', 'on', 'TRUE']) t.equal(loadConfig({ TESSERA_MIGRATE: value }).migrate, true, value);
  for (const value of ['false', '0', 'no', 'off', 'Off']) t.equal(loadConfig({ TESSERA_MIGRATE: value }).migrate, false, value);
  t.throws(() => loadConfig({ TESSERA_MIGRATE: 'maybe' }), { constructor: ConfigError, message: /^TESSERA_MIGRATE must be true or false/ });
});

t.test('TESSERA_MIGRATE=maybe is a start-up error naming the variable', async (t) => {
  const db = await testDatabase(t);
  const run = await serveUntilExit({ ...cliEnv(db, SECRET), TESSERA_MIGRATE: 'maybe' });
  failsClearly(t, run, /^tessera: TESSERA_MIGRATE must be true or false \(or 1\/0, yes\/no, on\/off\), not "maybe"\n$/);
  t.ok((await unappliedMigrations(db.url)).length > 0, 'nothing was applied');
});

t.test('TESSERA_MIGRATE unset: serve creates the schema, as before', async (t) => {
  const db = await testDatabase(t);
  const server = await startServer(t, cliEnv(db, SECRET));
  t.ok(
    server.log.some((line) => line.includes('database schema upgraded')),
    'migrations applied at start',
  );
  t.same(await unappliedMigrations(db.url), []);
});

t.test('an admin command on an SQLite file that does not exist creates nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-missing-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'nowhere', 'tessera.db');
  // No TESSERA_SECRET: a command that went on would generate one into the data folder.
  const env = { DATABASE_URL: `file:${file}`, TESSERA_DATA_DIR: join(dir, 'data'), TESSERA_SECRET: '', TESSERA_ISSUER: ISSUER };
  const message = `no database at ${file} (DATABASE_URL); run \`tessera migrate\` or \`tessera serve\` first`;
  const runs = await Promise.all([
    cli(env, ['client', 'list']),
    cli(env, ['user', 'list']),
    cli(env, ['keys', 'list']),
    cli(env, ['token', 'prune']),
    cli(env, ['user', 'create', 'alice', '--password-stdin'], 'alice password 1\n'),
  ]);
  for (const run of runs) {
    failsClearly(t, run, /^tessera: no database at /);
    t.equal(run.stderr, `tessera: ${message}\n`, 'in one line, naming the file');
  }
  t.same(readdirSync(dir), [], 'no database file, no folder, no data folder, no secret');
});

t.test('an admin command on an empty database refuses it and creates nothing', async (t) => {
  const db = await testDatabase(t);
  if (dialect === 'sqlite') writeFileSync(sqlitePath(db.url), '');
  const before = readdirSync(db.dataDir).sort();
  const run = await cli({ ...cliEnv(db, SECRET), TESSERA_SECRET: '' }, ['client', 'list']);
  failsClearly(t, run, OUT_OF_DATE);
  t.same(readdirSync(db.dataDir).sort(), before, 'no secret file generated');
  t.ok((await unappliedMigrations(db.url)).length > 1, 'no schema created');
});

t.test(
  'an admin command on a PostgreSQL database that does not exist says so',
  { skip: dialect !== 'postgresql' && 'PostgreSQL only' },
  async (t) => {
    const db = await testDatabase(t);
    const url = new URL(db.url);
    url.pathname = `/${url.pathname.slice(1)}_missing`;
    const env = { ...cliEnv(db, SECRET), DATABASE_URL: url.toString() };
    const [list, serve] = await Promise.all([cli(env, ['client', 'list']), serveUntilExit({ ...env, TESSERA_MIGRATE: 'false' })]);
    const message = new RegExp(`no database "${url.pathname.slice(1)}" on ${url.host} \\(DATABASE_URL\\)`);
    failsClearly(t, list, message);
    failsClearly(t, serve, message);
  },
);
