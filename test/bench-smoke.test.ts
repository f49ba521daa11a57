// Keeps the benchmark script working: every case for about a second, on this run's dialect.
// It asserts that the script runs and reports, never how fast anything was.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dialect } from './helpers/harness.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

t.test('npm run bench works end to end', async (t) => {
  const args = ['--import', 'tsx', 'scripts/bench.ts', '--quick', '--tokens', '2000', ...(dialect === 'postgresql' ? ['--pg'] : [])];
  const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, LOG_LEVEL: 'error' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
  t.equal(run.code, 0, 'the script exits cleanly');
  for (const row of [
    'baseline: bare Fastify POST',
    'introspect opaque (1 000 tokens)',
    'verify JWT',
    'client_credentials, JWT',
    'client_credentials, opaque',
    'refresh, rotating',
    'password grant',
    'introspect opaque, 2,000 more tokens stored',
  ]) {
    t.match(run.out, new RegExp(`\\| ${row.replace(/[()]/g, '\\$&')}[^|]*\\| \\d+ \\|`), `reports: ${row}`);
  }
  t.match(run.out, /Server RSS: \d+ MB/);
  t.match(
    run.out,
    /\| refresh, rotating \| \d+ \| [\d.]+ ms \| [\d.]+ ms \| 0 \|/,
    'every rotating refresh succeeded (the chain never broke)',
  );
});
