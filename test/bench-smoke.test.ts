// Keeps the benchmark script working: every case for about a second, on this run's dialect, and
// the autocannon fallback (used where wrk is missing) on the cases it handles differently.
// It asserts that the script runs and reports, never how fast anything was.
import t from 'tap';
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dialect } from './helpers/harness.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const hasWrk = (process.env.PATH ?? '').split(delimiter).some((dir) => {
  try {
    accessSync(join(dir, 'wrk'), constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

async function bench(...extra: string[]) {
  const args = [
    '--import',
    'tsx',
    'scripts/bench.ts',
    '--quick',
    '--tokens',
    '2000',
    ...(dialect === 'postgresql' ? ['--pg'] : []),
    ...extra,
  ];
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, LOG_LEVEL: 'error' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** A table row: req/s, p50, p99, non-2xx, then the generator's and the server's CPU shares. */
const row = (name: string, non2xx = '\\d+') =>
  new RegExp(`\\| ${name.replace(/[()]/g, '\\$&')}[^|]*\\| \\d+ \\| [\\d.]+ ms \\| [\\d.]+ ms \\| ${non2xx} \\| \\d+% \\| \\d+% \\|`);

t.test('npm run bench works end to end', async (t) => {
  const run = await bench();
  t.equal(run.code, 0, 'the script exits cleanly');
  t.match(run.out, /\| case \| req\/s \| p50 \| p99 \| non-2xx \| gen CPU \| server CPU \| ratio \| target \|/, 'prints the table');
  for (const name of [
    'baseline: bare Fastify POST',
    'introspect opaque (1 000 tokens)',
    'verify JWT',
    'client_credentials, JWT',
    'client_credentials, opaque',
    'refresh, rotating',
    'code exchange',
    'code exchange, openid (ID token)',
    'baseline: bare Fastify GET',
    '/authorize, live session (302 with a code)',
    'password grant',
    'introspect opaque, 2,000 more tokens stored',
  ]) {
    t.match(run.out, row(name), `reports: ${name}, with the generator's and the server's CPU share`);
  }
  t.match(run.out, /Server RSS: \d+ MB/, "reports the server's memory");
  t.match(run.out, row('refresh, rotating', '0'), 'every rotating refresh succeeded (the chain never broke)');
  t.match(run.out, row('code exchange', '0'), 'every code was exchanged once, successfully');
  t.match(run.out, row('code exchange, openid (ID token)', '0'), 'and with openid too');
  t.match(
    run.out,
    hasWrk ? /load generator: wrk -t\d+ -c32 / : /load generator: autocannon \(\d+ worker threads\)/,
    'names the load generator',
  );
  t.match(
    run.out,
    /baseline with (wrk -t1 -c32|autocannon \(\d+ worker threads\)): \d+ req\/s \(gen CPU \d+%, server CPU \d+%\);.* with autocannon \(one Node process\): \d+ req\/s \(gen CPU \d+%, server CPU \d+%\)/,
    'compares the baseline with the old generator',
  );
  if (hasWrk) t.match(run.out, /with wrk -t2 -c32: \d+ req\/s/, 'measures the baseline with wrk -t2 too');
  t.match(run.out, /Kept for every case: (wrk -t[12] -c32|autocannon \(\d+ worker threads\))/, 'says which generator loaded the cases');
});

t.test(
  'the autocannon fallback (--no-wrk) cycles bodies and rotates refresh tokens',
  { skip: !hasWrk && 'wrk is missing: the run above used the fallback' },
  async (t) => {
    const run = await bench('--no-wrk', '--only', 'refresh');
    t.equal(run.code, 0, 'the script exits cleanly');
    t.match(run.out, /wrk is not on PATH|--no-wrk: the load generator is autocannon/, 'says loudly which generator it fell back to');
    t.match(run.out, /load generator: autocannon \(\d+ worker threads\)/, 'names the load generator');
    t.match(run.out, row('baseline: bare Fastify POST', '0'), 'cycles the baseline bodies');
    t.match(run.out, row('refresh, rotating', '0'), 'every rotating refresh succeeded (the chain never broke)');
  },
);
