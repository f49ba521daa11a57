// A drill to run once by hand, never from the suite: a Tessera server on PostgreSQL under load while
// PostgreSQL itself restarts, and what its clients saw.
//
//   node --import tsx scripts/outage-drill.ts
//
// PG_ADMIN_URL   a role that may create databases (default postgresql://postgres@127.0.0.1:5432/postgres)
// DRILL_RESTART  the restart (default `pg_ctlcluster 15 main restart`: run as postgres or root)
// DRILL_SECONDS  how long the load runs (default 20; the restart comes after 5 s)
//
// It builds dist/, makes a scratch database (dropped at the end), starts `bin/tessera.js serve` on
// it, and restarts the cluster once: everything else connected to that cluster sees the restart.
// It prints the answers by phase and status, the slowest answer, how long after the restart the
// server issued tokens again, whether its change feed came back, and whether its log holds a stack
// trace. A clean run: no 500, no answer slower than 10 s, 503 with Retry-After while PostgreSQL is
// down, tokens again within seconds, the revocation heard, no stack.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { pgPoolConfig } from '../src/store/dialects/postgresql.js';
import { Tessera } from '../src/tessera.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const adminUrl = process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const restartCommand = process.env.DRILL_RESTART ?? 'pg_ctlcluster 15 main restart';
const seconds = Number(process.env.DRILL_SECONDS ?? 20);
const SECRET = 'outage-drill-secret-outage-drill-secret-0';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function admin(sql: string): Promise<void> {
  const client = new pg.Client(pgPoolConfig(adminUrl));
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Outcome {
  kind: 'token' | 'refresh' | 'verify' | 'ready';
  sentAt: number;
  ms: number;
  result: number | 'no answer';
  retryAfter: string | null;
  body: Record<string, unknown>;
}

// The server runs from the bundle: build it from src/ first.
spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
const name = `tessera_drill_${randomBytes(4).toString('hex')}`;
const dataDir = mkdtempSync(join(tmpdir(), 'tessera-drill-'));
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
await admin(`CREATE DATABASE "${name}"`);
const port = await freePort();
const env = { DATABASE_URL: databaseUrl, TESSERA_DATA_DIR: dataDir, TESSERA_SECRET: SECRET, TESSERA_ISSUER: `http://localhost:${port}` };
// Another instance on the same database: it registers the client and the user, and later revokes.
const other = await Tessera.open(loadConfig({ ...env, LOG_LEVEL: 'warn' }), createLogger('warn'), { schema: 'apply' });
const { client: registered, secret } = await other.clients.register({
  name: 'drill',
  grants: ['client_credentials', 'password'],
  scopes: ['read'],
});
await other.users.create('drill', undefined, 'drill password 123');
const basic = `Basic ${Buffer.from(`${registered.id}:${secret}`).toString('base64')}`;

const server = spawn(process.execPath, ['bin/tessera.js', 'serve'], {
  cwd: root,
  env: { ...process.env, ...env, PORT: String(port), TESSERA_ADMIN_PORT: '0', LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const log: string[] = [];
let partial = '';
server.stdout.on('data', (chunk: Buffer) => {
  const lines = (partial + chunk.toString()).split('\n');
  partial = lines.pop() ?? '';
  log.push(...lines.filter((line) => line.trim() !== ''));
});
const base = `http://127.0.0.1:${port}`;
for (let up = false; !up; await sleep(100))
  up = await fetch(`${base}/healthz`).then(
    (r) => r.ok,
    () => false,
  );

const outcomes: Outcome[] = [];
async function send(kind: Outcome['kind'], path: string, form?: Record<string, string>): Promise<Outcome> {
  const sentAt = Date.now();
  let outcome: Outcome;
  try {
    const response = await fetch(`${base}${path}`, {
      method: form ? 'POST' : 'GET',
      headers: form ? { 'content-type': 'application/x-www-form-urlencoded', authorization: basic } : {},
      body: form ? new URLSearchParams(form).toString() : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    outcome = { kind, sentAt, ms: Date.now() - sentAt, result: response.status, retryAfter: response.headers.get('retry-after'), body };
  } catch {
    outcome = { kind, sentAt, ms: Date.now() - sentAt, result: 'no answer', retryAfter: null, body: {} };
  }
  outcomes.push(outcome);
  return outcome;
}

const token = (form: Record<string, string>) => send('token', '/token', form);
const family = await token({ grant_type: 'password', username: 'drill', password: 'drill password 123', scope: 'read' });
const verified = await token({ grant_type: 'client_credentials', scope: 'read' });
outcomes.length = 0;
let loading = true;
const loops = [
  async () => {
    while (loading) await token({ grant_type: 'client_credentials', scope: 'read' });
  },
  async () => {
    while (loading) await token({ grant_type: 'client_credentials', scope: 'read' });
  },
  async () => {
    let refreshToken = String(family.body.refresh_token);
    while (loading) {
      const outcome = await send('refresh', '/token', { grant_type: 'refresh_token', refresh_token: refreshToken });
      if (outcome.result === 200) refreshToken = String(outcome.body.refresh_token);
      else if (outcome.result !== 503) break;
    }
  },
  async () => {
    while (loading) await send('verify', '/token/verify', { token: String(verified.body.access_token) });
  },
  async () => {
    while (loading) {
      await send('ready', '/readyz');
      await sleep(200);
    }
  },
];
const started = Date.now();
const load = Promise.all(loops.map((loop) => loop()));
await sleep(5000);
console.log(`restarting PostgreSQL: ${restartCommand}`);
const restartAt = Date.now();
const restart = spawnSync('sh', ['-c', restartCommand], { stdio: 'inherit' });
const restartedAt = Date.now();
console.log(`the restart command took ${restartedAt - restartAt} ms (exit ${restart.status})`);
await sleep(Math.max(0, started + seconds * 1000 - Date.now()));
loading = false;
await load;

// The change feed: a revocation through the other instance must reach the server's cache.
const fresh = await token({ grant_type: 'client_credentials', scope: 'read' });
const check = () => send('verify', '/token/verify', { token: String(fresh.body.access_token) });
await check();
const revokedAt = Date.now();
// The other instance's pooled connections died in the restart too: its first try may meet one.
for (let attempt = 1; ; attempt++) {
  try {
    await other.revocation.revoke(String(fresh.body.access_token), null);
    break;
  } catch (error) {
    if (attempt === 3) throw error;
  }
}
let heard: number | undefined;
while (heard === undefined && Date.now() - revokedAt < 10_000) {
  if ((await check()).result === 401) heard = Date.now() - revokedAt;
  else await sleep(50);
}

const phase = (o: Outcome) => (o.sentAt < restartAt ? '1 before' : o.sentAt < restartedAt ? '2 restarting' : '3 after');
const counts: Record<string, Record<string, number>> = {};
for (const o of outcomes) {
  const key = `${o.kind} ${o.result}${o.result === 503 ? ` (Retry-After ${o.retryAfter})` : ''}`;
  counts[phase(o)] = { ...counts[phase(o)], [key]: (counts[phase(o)]?.[key] ?? 0) + 1 };
}
const firstFailure = outcomes.find((o) => o.kind === 'token' && o.result !== 200 && o.sentAt >= restartAt);
const back = outcomes.find((o) => o.kind === 'token' && o.result === 200 && firstFailure && o.sentAt > firstFailure.sentAt);
console.log('\nanswers by phase (sent before, during and after the restart command):');
for (const [name, byStatus] of Object.entries(counts).sort()) console.log(`  ${name}: ${JSON.stringify(byStatus)}`);
console.log(`slowest answer: ${Math.max(...outcomes.map((o) => o.ms))} ms`);
console.log(
  `500s: ${outcomes.filter((o) => o.result === 500).length}; no answer: ${outcomes.filter((o) => o.result === 'no answer').length}`,
);
console.log(
  firstFailure && back
    ? `tokens again ${back.sentAt + back.ms - restartedAt} ms after the restart command returned (first failure ${firstFailure.sentAt - restartAt} ms into it)`
    : firstFailure
      ? 'NOT RECOVERED: no token was issued after the first failure'
      : 'no token request failed during the restart',
);
console.log(
  heard === undefined ? 'change feed: the revocation was NOT heard within 10 s' : `change feed: the revocation was heard after ${heard} ms`,
);
const stacks = log.filter((line) => line.includes('"stack"'));
console.log(
  `log: ${log.length} lines, ${log.filter((line) => line.includes('"level":40')).length} warnings, ${stacks.length} with a stack trace`,
);
if (stacks[0]) console.log(`  e.g. ${stacks[0].slice(0, 400)}`);

server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
await other.close();
await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
rmSync(dataDir, { recursive: true, force: true });
