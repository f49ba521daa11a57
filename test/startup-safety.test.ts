// Start-up refuses what is unsafe and says why: a plain-http issuer off the loopback, a secret file
// too short to key anything; and the embedded database is private from the moment it is created.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { Tessera } from '../src/tessera.ts';
import { catchError } from './helpers/harness.ts';

const scratch = (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-startup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
t.test('the issuer is https, or plain http on the loopback only', async (t) => {
  for (const issuer of ['http://auth.example.com', 'http://10.0.0.5:3000', 'http://localhost.example.com']) {
    t.throws(() => loadConfig({ TESSERA_ISSUER: issuer }), { name: 'Error', message: /must be an https URL/ }, `${issuer} is refused`);
    t.type(
      catchError(() => loadConfig({ TESSERA_ISSUER: issuer })),
      ConfigError,
      `${issuer}: a ConfigError`,
    );
  }
  for (const issuer of ['https://auth.example.com', 'http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000']) {
    t.equal(loadConfig({ TESSERA_ISSUER: issuer }).issuer, issuer, `${issuer} is accepted`);
  }
});

t.test('session lifetimes and the brand name are checked at start', async (t) => {
  const config = loadConfig({});
  t.same([config.sessionIdleSeconds, config.sessionMaxSeconds, config.brandName], [1800, 36_000, 'Tessera'], 'the defaults');
  t.same(
    [
      loadConfig({ TESSERA_SESSION_IDLE: '600', TESSERA_SESSION_MAX: '600' }).sessionIdleSeconds,
      loadConfig({ TESSERA_BRAND_NAME: ' Acme ' }).brandName,
    ],
    [600, 'Acme'],
  );
  const refused: [Record<string, string>, RegExp][] = [
    [
      { TESSERA_SESSION_IDLE: '7200', TESSERA_SESSION_MAX: '3600' },
      /TESSERA_SESSION_IDLE \(7200\) must not exceed TESSERA_SESSION_MAX \(3600\)/,
    ],
    [{ TESSERA_SESSION_IDLE: '10' }, /TESSERA_SESSION_IDLE must be a whole number from 60/],
    [{ TESSERA_SESSION_MAX: '-1' }, /TESSERA_SESSION_MAX must be a whole number/],
    [{ TESSERA_SESSION_MAX: '1e9' }, /TESSERA_SESSION_MAX must be a whole number/],
    [{ TESSERA_BRAND_NAME: 'x'.repeat(65) }, /TESSERA_BRAND_NAME must be at most 64 characters/],
    [{ TESSERA_BRAND_NAME: 'Acme\u0007' }, /without control characters/],
  ];
  for (const [env, message] of refused) {
    const error = catchError(() => loadConfig(env));
    t.type(error, ConfigError, `${JSON.stringify(env)} is refused`);
    t.match((error as Error).message, message);
  }
});

t.test('a secret file shorter than 32 characters stops the start, and says which file', async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, 'secret'), 'too-short\n', { mode: 0o600 });
  const config = loadConfig({ DATABASE_URL: `file:${join(dir, 'tessera.db')}`, TESSERA_DATA_DIR: dir });
  await t.rejects(Tessera.open(config, createLogger('silent'), { schema: 'apply' }), {
    constructor: ConfigError,
    message: new RegExp(`${join(dir, 'secret')} holds fewer than 32 characters`),
  });
});

t.test('a new SQLite database is private: folder 0700, files 0600', async (t) => {
  const dir = scratch(t);
  const dataDir = join(dir, 'data');
  const config = loadConfig({ DATABASE_URL: `file:${join(dataDir, 'db', 'tessera.db')}`, TESSERA_DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
  const tessera = await Tessera.open(config, createLogger('silent'), { schema: 'apply' });
  t.teardown(() => tessera.close());
  await tessera.users.create('alice', undefined, 'long enough 1'); // something in the WAL
  const mode = (path: string) => statSync(path).mode & 0o777;
  t.equal(mode(dataDir), 0o700, 'the data folder');
  t.equal(mode(join(dataDir, 'secret')), 0o600, 'the generated secret');
  t.equal(mode(join(dataDir, 'db')), 0o700, "the database's folder");
  for (const file of ['tessera.db', 'tessera.db-wal', 'tessera.db-shm']) t.equal(mode(join(dataDir, 'db', file)), 0o600, file);
});
