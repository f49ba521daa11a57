// `npm test`: first the static checks (type-check, formatting, lint, dependency rules; the first
// failing one stops the run), then the whole suite on SQLite, then again on PostgreSQL, and one
// closing line `N passed, N failed[, N skipped]` over both. Without a reachable PostgreSQL the second
// half is skipped with a loud notice — except under CI (CI=true) or TESSERA_REQUIRE_PG=1, where that
// fails. TESSERA_SKIP_CHECKS=1 skips the static checks for a quick local run (never under CI).
// Extra arguments are passed to tap (e.g. a test file).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const adminUrl = process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const requirePg = process.env.CI === 'true' || process.env.TESSERA_REQUIRE_PG === '1';
const run = randomBytes(3).toString('hex');
const totals = { passed: 0, failed: 0, skipped: 0 };

function runTap(dialect) {
  console.log(`\n=== tests on ${dialect} ===\n`);
  return new Promise((resolve) => {
    const child = spawn('npx', ['--no', 'tap', ...process.argv.slice(2)], {
      env: { ...process.env, TESSERA_TEST_DIALECT: dialect, TESSERA_TEST_RUN: run },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4096);
    });
    child.on('close', (code) => {
      // tap's closing summary: "# { total: N, pass: N, fail: N, skip: N, todo: N }"
      const summary = /# \{ total: (\d+)([^}]*)\}/.exec(tail);
      const count = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(summary?.[2] ?? '')?.[1] ?? 0);
      if (!summary) {
        console.log(`tap printed no summary on ${dialect} (exit ${code}): counted as a failure`);
        totals.failed += 1;
      } else {
        totals.passed += count('pass');
        totals.failed += count('fail') + (code !== 0 && count('fail') === 0 ? 1 : 0);
        totals.skipped += count('skip') + count('todo');
      }
      resolve();
    });
  });
}

async function postgresReachable() {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

// The static checks, in this order, each an npm script run with its own output; the first that
// fails ends the run with the closing line CI reads.
const CHECKS = ['typecheck', 'format:check', 'lint', 'deps:check'];
const root = fileURLToPath(new URL('..', import.meta.url));
const { scripts } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

function runChecks() {
  if (process.env.TESSERA_SKIP_CHECKS === '1') {
    if (process.env.CI === 'true') {
      console.log('TESSERA_SKIP_CHECKS=1 is ignored under CI: the static checks run.');
    } else {
      console.log(`TESSERA_SKIP_CHECKS=1: static checks SKIPPED (${CHECKS.join(', ')}).`);
      return;
    }
  }
  for (const name of CHECKS) {
    console.log(`\n=== check: npm run ${name} (${scripts[name]}) ===\n`);
    const started = Date.now();
    const { status, signal, error } = spawnSync('npm', ['run', '--silent', name], { cwd: root, stdio: 'inherit' });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (status !== 0) {
      const why = error ? error.message : signal ? `killed by ${signal}` : `exit ${status}`;
      console.log(`\ncheck \`npm run ${name}\` FAILED (${why}, ${seconds} s): the test suites did not run.`);
      console.log('\n0 passed, 1 failed');
      process.exit(1);
    }
    console.log(`check \`npm run ${name}\` passed (${seconds} s)`);
  }
}

runChecks();
// The admin command and server that tests spawn run from the bundle: build it from src/ first.
await import('./build.mjs');
await runTap('sqlite');
if (await postgresReachable()) {
  await runTap('postgresql');
} else if (requirePg) {
  console.log(`\nPostgreSQL is not reachable at ${adminUrl}, and this run requires it.`);
  totals.failed += 1;
} else {
  const bar = '!'.repeat(72);
  console.log(
    `\n${bar}\n!! PostgreSQL is not reachable at ${adminUrl}:\n!! the PostgreSQL half of the suite was SKIPPED. Set PG_ADMIN_URL to run it.\n${bar}`,
  );
}
console.log(`\n${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(totals.failed > 0 ? 1 : 0);
