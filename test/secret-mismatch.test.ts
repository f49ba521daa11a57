// A TESSERA_SECRET other than the one a database's signing keys were encrypted with stops the start
// and every admin command, and says so in one line, instead of OpenSSL's "unable to authenticate data".
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { Tessera } from '../src/tessera.ts';
import { testConfig, testDatabase } from './helpers/harness.ts';

const bin = fileURLToPath(new URL('../bin/tessera.js', import.meta.url));
const FIRST = 'the-first-secret-the-first-secret-0123456';
const OTHER = 'another-secret-another-secret-another-0123';
const MISMATCH = "TESSERA_SECRET does not match the secret this database's signing keys were encrypted with";

function run(env: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('a database keyed under another secret', async (t) => {
  const db = await testDatabase(t);
  const first = await Tessera.open(testConfig(db, { TESSERA_SECRET: FIRST }), createLogger('silent'), { schema: 'apply' });
  const kid = first.keys.signingKey().kid;
  await first.close();

  t.test('Tessera.open refuses it with a ConfigError that names the cause', async (t) => {
    await t.rejects(Tessera.open(testConfig(db, { TESSERA_SECRET: OTHER }), createLogger('silent'), { schema: 'apply' }), {
      constructor: ConfigError,
      message: MISMATCH,
    });
  });

  const env = { DATABASE_URL: db.url, TESSERA_DATA_DIR: db.dataDir, TESSERA_ISSUER: 'http://localhost:3000' };
  t.test('the admin command and the server fail in one line, exit 1', async (t) => {
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const runs = await Promise.all([
      run({ ...env, TESSERA_SECRET: OTHER }, ['client', 'list']),
      run({ ...env, TESSERA_SECRET: OTHER }, ['keys', 'list']),
      run({ ...env, TESSERA_SECRET: OTHER, PORT: port, TESSERA_ADMIN_PORT: '0' }, ['serve']),
    ]);
    for (const [i, result] of runs.entries()) {
      const what = ['client list', 'keys list', 'serve'][i]!;
      t.equal(result.code, 1, `${what}: exit 1`);
      t.equal(result.stderr, `tessera: ${MISMATCH}\n`, `${what}: the cause, in one line`);
      t.notMatch(result.stderr, /authenticate data|\n\s+at /, `${what}: no OpenSSL message, no stack`);
    }
  });

  t.test('the right secret still opens it', async (t) => {
    const result = await run({ ...env, TESSERA_SECRET: FIRST }, ['--json', 'keys', 'list']);
    t.equal(result.code, 0, result.stderr);
    t.match(result.stdout, kid);
  });
});
