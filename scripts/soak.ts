// `npm run soak [-- --db postgresql] [--minutes N | --seconds N] [--concurrency N]`
// A soak: one real server process (`node bin/tessera.js serve`, the bundle `npm run soak` builds
// first) on a database of its own — an SQLite file by default, or with `--db postgresql` a new
// database on PG_ADMIN_URL (default postgres@127.0.0.1:5432, dropped afterwards) — under mixed
// traffic for a while (10 minutes by default) at modest concurrency (8 workers): every grant
// (client_credentials opaque and JWT, password, authorization_code with PKCE through the sign-in
// page, refresh), /token/verify, /introspect, /revoke, and refresh races (several refreshes of one
// token at once: exactly one may win, the rest are invalid_grant).
// Every answer is checked against what it must be: a token this run holds and has not revoked is
// active, a revoked one is not, and so on. At the end it prints a report and the same as one JSON
// line: requests served, answers by status, unexpected answers, p50/p99 latency, the server's RSS
// at start, after warm-up, at 1 minute and at the end. It exits 1 on any 5xx, a race not won
// exactly once, any other unexpected answer, an error in the server's log, or an RSS at the end
// more than 50% over the RSS after warm-up (the first minute, or a third of a shorter run).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig, type Dialect } from '../src/config.js';
import type { ClientRegistration } from '../src/domain/clients.js';
import { createLogger } from '../src/logger.js';
import { pgPoolConfig } from '../src/store/dialects/postgresql.js';
import { Tessera } from '../src/tessera.js';

const USAGE = 'usage: npm run soak [-- --db sqlite|postgresql] [--minutes N | --seconds N] [--concurrency N]';

const isDialect = (name: string): name is Dialect => name === 'sqlite' || name === 'postgresql';

function options() {
  const args = process.argv.slice(2);
  const given = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]!;
    const value = args[i + 1];
    if (!['--db', '--minutes', '--seconds', '--concurrency'].includes(name) || value === undefined) throw new Error(USAGE);
    given.set(name.slice(2), value);
  }
  const positive = (name: string, fallback: number) => {
    const value = Number(given.get(name) ?? fallback);
    if (!(value > 0)) throw new Error(`--${name} must be a positive number\n${USAGE}`);
    return value;
  };
  const db = given.get('db') ?? 'sqlite';
  if (!isDialect(db)) throw new Error(`--db must be sqlite or postgresql\n${USAGE}`);
  const seconds = given.has('seconds') ? positive('seconds', 0) : positive('minutes', 10) * 60;
  return { db, seconds, concurrency: Math.round(positive('concurrency', 8)) };
}

const root = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'soak-secret-soak-secret-soak-secret-0123';
const PASSWORD = 'soak password 1234';
const REDIRECT = 'https://app.example.com/callback';
/** Users to sign in as, spread so that no one username carries all the sign-ins. */
const USERS = Array.from({ length: 20 }, (_, i) => `soak${i}`);
/** Refreshes sent at once with one token in a race. */
const RACERS = 4;
/** The pools of tokens held for later requests are capped, oldest out first. */
const POOL_LIMIT = 1000;
const RSS_GROWTH_LIMIT = 1.5;

// ── The run's database, clients and users ───────────────────────────────────────────────────────

interface Client {
  name: string;
  id: string;
  secret?: string;
}

async function seed(env: NodeJS.ProcessEnv) {
  const core = await Tessera.open(loadConfig(env), createLogger('warn'), { schema: 'apply' });
  try {
    const register = async (registration: ClientRegistration): Promise<Client> => {
      const { client, secret } = await core.clients.register(registration);
      return secret ? { name: registration.name, id: client.id, secret } : { name: registration.name, id: client.id };
    };
    // An hour's lifetime for access tokens: every token this run holds stays live to its end.
    const accessTtl = 3600;
    const service = await register({ name: 'service', scopes: ['read', 'write'], introspect: true, accessTtl });
    const jwt = await register({ name: 'jwt', tokenFormat: 'jwt', scopes: ['read'], accessTtl });
    const app = await register({
      name: 'app',
      grants: ['password', 'authorization_code'],
      redirectUris: [REDIRECT],
      scopes: ['profile'],
      accessTtl,
    });
    const spa = await register({ name: 'spa', public: true, redirectUris: [REDIRECT], scopes: ['profile'], accessTtl });
    await Promise.all(USERS.map((username) => core.users.create(username, undefined, PASSWORD)));
    return { service, jwt, app, spa };
  } finally {
    await core.close();
  }
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
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

/** The resident set of a process, in MiB (Linux). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 102.4) / 10;
}

// ── What was sent and what came back ────────────────────────────────────────────────────────────

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown>;
}

class Tally {
  served = 0;
  readonly statuses = new Map<number, number>();
  readonly latencies = new Map<string, number[]>();
  readonly unexpected = new Map<string, { count: number; example: string }>();
  serverErrors = 0;
  races = 0;
  brokenRaces = 0;

  answered(label: string, status: number, ms: number): void {
    this.served++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    const list = this.latencies.get(label) ?? [];
    list.push(ms);
    this.latencies.set(label, list);
  }

  surprise(what: string, example: string): void {
    const seen = this.unexpected.get(what);
    if (seen) seen.count++;
    else this.unexpected.set(what, { count: 1, example: example.slice(0, 300) });
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const round = (ms: number) => Math.round(ms * 10) / 10;

/** An access token this run holds, and the refresh family it belongs to (none for client_credentials). */
interface Held {
  token: string;
  client: Client;
  family: Revocable | null;
  /** The token's own revocation (a worker may revoke it while another verifies it). */
  own: Revocable;
  /** What issued it, and when (performance.now()): for the report of an unexpected answer. */
  via: string;
  at: number;
}
/** A family, or one token: `ending` while a revocation of it is under way (its tokens may then read either way). */
interface Revocable {
  state: 'live' | 'ending' | 'ended';
}
interface HeldRefresh extends Held {
  family: Revocable;
}

function keep<T>(pool: T[], item: T): void {
  pool.push(item);
  if (pool.length > POOL_LIMIT) pool.shift();
}
const any = <T>(pool: readonly T[]): T | undefined => pool[Math.floor(Math.random() * pool.length)];
const take = <T>(pool: T[]): T | undefined => pool.splice(Math.floor(Math.random() * pool.length), 1)[0];

function unescapeHtml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, entity: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[entity]!);
}

// ── The traffic ─────────────────────────────────────────────────────────────────────────────────

function traffic(base: string, clients: Awaited<ReturnType<typeof seed>>, tally: Tally) {
  const access: Held[] = [];
  const refresh: HeldRefresh[] = [];
  const { service, jwt, app, spa } = clients;

  /** Client authentication: Basic for a confidential client, client_id in the body for a public one. */
  const credentials = (client: Client): { headers: Record<string, string>; form: Record<string, string> } =>
    client.secret
      ? { headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` }, form: {} }
      : { headers: {}, form: { client_id: client.id } };

  async function call(
    label: string,
    path: string,
    request: { form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Answer | null> {
    const started = performance.now();
    try {
      const res = await fetch(base + path, {
        method: request.form ? 'POST' : 'GET',
        headers: { ...(request.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...request.headers },
        body: request.form ? new URLSearchParams(request.form).toString() : undefined,
        redirect: 'manual',
      });
      const text = await res.text();
      tally.answered(label, res.status, performance.now() - started);
      if (res.status >= 500) tally.surprise(`${label}: ${res.status}`, text);
      let body: Record<string, unknown> = {};
      if (res.headers.get('content-type')?.startsWith('application/json') && text) body = JSON.parse(text) as Record<string, unknown>;
      return { status: res.status, headers: res.headers, text, body };
    } catch (error) {
      tally.surprise(`${label}: no answer`, String(error));
      return null;
    }
  }

  /** Whether the answer has one of the statuses it may have; any other is counted as unexpected. */
  function expect(label: string, answer: Answer | null, statuses: number[], what = ''): answer is Answer {
    if (!answer) return false;
    if (statuses.includes(answer.status)) return true;
    if (answer.status < 500) tally.surprise(`${label}: ${answer.status}`, `${what ? `${what}: ` : ''}${answer.text}`);
    return false;
  }

  /** Whether a held token is live, being revoked (itself or its family), or revoked. */
  const stateOf = (held: Held): Revocable['state'] => {
    const states = [held.own.state, held.family?.state];
    return states.includes('ended') ? 'ended' : states.includes('ending') ? 'ending' : 'live';
  };
  function issued<F extends Revocable | null>(answer: Answer, via: string, client: Client, family: F) {
    const own: Revocable = { state: 'live' };
    return { token: String(answer.body.access_token), client, family, own, via, at: performance.now() };
  }
  const describe = (held: Held) =>
    `a token from ${held.via} (${held.token.slice(0, 12)}…), ${((performance.now() - held.at) / 1000).toFixed(1)} s old`;

  async function clientCredentials(client: Client): Promise<void> {
    const { headers } = credentials(client);
    const answer = await call(`client_credentials ${client.name}`, '/token', { form: { grant_type: 'client_credentials' }, headers });
    if (expect(`client_credentials ${client.name}`, answer, [200]))
      keep(access, issued(answer, `client_credentials ${client.name}`, client, null));
  }

  /** A new family: its access token is held, its refresh token returned. */
  async function passwordGrant(): Promise<HeldRefresh | null> {
    const { headers } = credentials(app);
    const form = { grant_type: 'password', username: any(USERS)!, password: PASSWORD };
    const answer = await call('password', '/token', { form, headers });
    if (!expect('password', answer, [200])) return null;
    const family: Revocable = { state: 'live' };
    keep(access, issued(answer, 'password', app, family));
    return { ...issued(answer, 'password', app, family), token: String(answer.body.refresh_token) };
  }

  async function signIn(): Promise<void> {
    const held = await passwordGrant();
    if (held) keep(refresh, held);
  }

  /** The code flow as a browser runs it: the sign-in page, the form posted back, the code exchanged. */
  async function authorizationCode(): Promise<void> {
    const client = Math.random() < 0.5 ? spa : app;
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: client.id,
      redirect_uri: REDIRECT,
      state: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const page = await call('authorize page', `/authorize?${query}`);
    if (!expect('authorize page', page, [200])) return;
    const cookie = page.headers
      .getSetCookie()
      .find((c) => c.startsWith('tessera_login_csrf='))
      ?.split(';')[0];
    const hidden = [...page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [
      m[1]!,
      unescapeHtml(m[2]!),
    ]);
    const form = { ...Object.fromEntries(hidden), username: any(USERS)!, password: PASSWORD };
    const signIn = await call('authorize sign-in', '/authorize', { form, headers: { cookie: cookie ?? '' } });
    if (!expect('authorize sign-in', signIn, [302])) return;
    const code = new URL(signIn.headers.get('location') ?? '/', base).searchParams.get('code');
    if (!code) return tally.surprise('authorize sign-in: no code', signIn.headers.get('location') ?? 'no Location');
    const { headers, form: auth } = credentials(client);
    const exchange = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, ...auth };
    const tokens = await call('authorization_code', '/token', { form: exchange, headers });
    if (!expect('authorization_code', tokens, [200])) return;
    const family: Revocable = { state: 'live' };
    keep(access, issued(tokens, 'authorization_code', client, family));
    keep(refresh, { ...issued(tokens, 'authorization_code', client, family), token: String(tokens.body.refresh_token) });
  }

  /** One refresh, at /token/refresh or /token, through either endpoint. */
  function refreshRequest(held: HeldRefresh) {
    const { headers, form } = credentials(held.client);
    const path = Math.random() < 0.5 ? '/token/refresh' : '/token';
    return { path, form: { ...(path === '/token' ? { grant_type: 'refresh_token' } : {}), refresh_token: held.token, ...form }, headers };
  }

  async function refreshOnce(): Promise<void> {
    const held = take(refresh) ?? (await passwordGrant());
    if (!held) return;
    const { path, ...request } = refreshRequest(held);
    const answer = await call('refresh', path, request);
    if (!expect('refresh', answer, [200])) return;
    keep(access, issued(answer, 'refresh', held.client, held.family));
    keep(refresh, { ...issued(answer, 'refresh', held.client, held.family), token: String(answer.body.refresh_token) });
  }

  /** RACERS refreshes of one token at once: one wins; the others are invalid_grant and end the family. */
  async function refreshRace(): Promise<void> {
    const held = take(refresh) ?? (await passwordGrant());
    if (!held) return;
    held.family.state = 'ending';
    const answers = await Promise.all(
      Array.from({ length: RACERS }, () => {
        const { path, ...request } = refreshRequest(held);
        return call('refresh race', path, request);
      }),
    );
    held.family.state = 'ended';
    tally.races++;
    const won = answers.filter((a) => a?.status === 200).length;
    const refused = answers.filter((a) => a?.status === 400 && a.body.error === 'invalid_grant').length;
    if (won !== 1 || refused !== RACERS - 1) {
      tally.brokenRaces++;
      tally.surprise('refresh race: not exactly one winner', answers.map((a) => a?.status ?? 'no answer').join(' '));
    }
  }

  async function verify(): Promise<void> {
    const held = any(access);
    if (!held) return clientCredentials(service);
    const before = stateOf(held);
    // The token in the body, or as a Bearer header.
    const request: { form: Record<string, string>; headers?: Record<string, string> } =
      Math.random() < 0.5 ? { form: { token: held.token } } : { form: {}, headers: { authorization: `Bearer ${held.token}` } };
    const answer = await call('verify', '/token/verify', request);
    const after = stateOf(held);
    const allowed = before !== after || before === 'ending' ? [200, 401] : before === 'live' ? [200] : [401];
    if (expect('verify', answer, allowed, describe(held)) && answer.status === 401 && answer.body.error !== 'invalid_token')
      tally.surprise('verify: 401 without invalid_token', answer.text);
  }

  async function introspect(): Promise<void> {
    const held = any(access);
    if (!held) return clientCredentials(service);
    const before = stateOf(held);
    const answer = await call('introspect', '/introspect', { form: { token: held.token }, headers: credentials(service).headers });
    const after = stateOf(held);
    if (!expect('introspect', answer, [200]) || before !== after || before === 'ending') return;
    if (answer.body.active !== (before === 'live'))
      tally.surprise(`introspect: active ${String(answer.body.active)} for a ${before} token`, answer.text);
  }

  /** Revokes a held access token (then it must not verify) or refresh token (then it must not refresh). */
  async function revoke(): Promise<void> {
    if (Math.random() < 0.5) {
      const held = take(access);
      if (!held) return;
      const { headers, form } = credentials(held.client);
      held.own.state = 'ending';
      const answer = await call('revoke', '/revoke', { form: { token: held.token, ...form }, headers });
      held.own.state = 'ended';
      if (!expect('revoke', answer, [200])) return;
      expect('verify after revoke', await call('verify after revoke', '/token/verify', { form: { token: held.token } }), [401]);
      return;
    }
    const held = take(refresh);
    if (!held) return;
    const { headers, form } = credentials(held.client);
    held.family.state = 'ending';
    const answer = await call('revoke', '/revoke', { form: { token: held.token, ...form }, headers });
    held.family.state = 'ended';
    if (!expect('revoke', answer, [200])) return;
    const { path, ...request } = refreshRequest(held);
    const after = await call('refresh after revoke', path, request);
    if (expect('refresh after revoke', after, [400]) && after.body.error !== 'invalid_grant')
      tally.surprise('refresh after revoke: not invalid_grant', after.text);
  }

  const operations: [weight: number, run: () => Promise<unknown>][] = [
    [20, () => clientCredentials(service)],
    [10, () => clientCredentials(jwt)],
    [25, verify],
    [20, introspect],
    [4, signIn],
    [3, authorizationCode],
    [10, refreshOnce],
    [5, revoke],
    [2, refreshRace],
  ];
  const total = operations.reduce((sum, [weight]) => sum + weight, 0);
  return function next(): Promise<unknown> {
    let roll = Math.random() * total;
    for (const [weight, run] of operations) if ((roll -= weight) < 0) return run();
    return operations[0]![1]();
  };
}

// ── The run ─────────────────────────────────────────────────────────────────────────────────────

/** The server's RSS in MiB: at start, after warm-up, at 1 minute (null until sampled), at the end, and the most seen. */
interface Rss {
  start: number;
  warm: number | null;
  oneMinute: number | null;
  end: number | null;
  max: number;
}

/** Cleanup steps, run last-first, once: at the end, on an error, or on a second Ctrl-C. */
const cleanups: (() => Promise<void> | void)[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.splice(0).reverse()) await step();
  })();
  return cleaning;
}
/** A first Ctrl-C ends the traffic early (the report still comes); a second one stops at once. */
let interrupted = false;

/** The run's database URL: an SQLite file in `scratch`, or a new PostgreSQL database dropped at the end. */
async function database(db: Dialect, scratch: string): Promise<string> {
  if (db === 'sqlite') return `file:${join(scratch, 'tessera.db')}`;
  const adminUrl = process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const name = `tessera_soak_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  cleanups.push(() => adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  return Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
}

/**
 * `tessera serve` as a process of its own, once /healthz answers. It logs at LOG_LEVEL=error, so
 * every line on its stdout is an error: each is handed to `onError`.
 */
async function startServer(env: NodeJS.ProcessEnv, base: string, onError: (line: string) => void) {
  // A process group of its own, so that a Ctrl-C meant for the soak does not stop the server mid-run.
  const child = spawn(process.execPath, ['bin/tessera.js', 'serve'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  process.once('exit', () => {
    if (running()) child.kill('SIGKILL');
  });
  cleanups.push(async () => {
    if (!running()) return;
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    child.kill('SIGKILL');
  });
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    lines.filter((line) => line.trim() !== '').forEach(onError);
  });
  const healthy = () =>
    fetch(`${base}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
  for (let waited = 0; !(await healthy()); waited += 100) {
    if (!running()) throw new Error('the server exited at start');
    if (waited > 30_000) throw new Error('the server did not answer /healthz within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { pid: child.pid!, running };
}

async function main(): Promise<number> {
  const { db, seconds, concurrency } = options();
  const scratch = mkdtempSync(join(tmpdir(), 'tessera-soak-'));
  cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    DATABASE_URL: await database(db, scratch),
    TESSERA_SECRET: SECRET,
    TESSERA_DATA_DIR: scratch,
    TESSERA_ISSUER: base,
    PORT: String(port),
    TESSERA_ADMIN_PORT: '0',
    // Errors only: the races' "revoking its grant" warnings are expected, an error is not.
    LOG_LEVEL: 'error',
  };
  const clients = await seed(env);
  const tally = new Tally();
  const serverErrors: string[] = [];
  const server = await startServer(env, base, (line) => {
    tally.serverErrors++;
    if (serverErrors.length < 5) serverErrors.push(line.slice(0, 500));
  });

  const warmup = Math.min(60, seconds / 3);
  const rss: Rss = { start: rssMb(server.pid), warm: null, oneMinute: null, end: null, max: 0 };
  console.log(`soak: ${db}, ${seconds} s, ${concurrency} workers, server pid ${server.pid} at ${base}, RSS ${rss.start} MiB at start`);
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  let nextProgress = 60;
  const sampler = setInterval(() => {
    if (!server.running()) return;
    const now = rssMb(server.pid);
    rss.max = Math.max(rss.max, now);
    if (rss.warm === null && elapsed() >= warmup) rss.warm = now;
    if (rss.oneMinute === null && elapsed() >= 60) rss.oneMinute = now;
    if (elapsed() >= nextProgress) {
      nextProgress += 60;
      console.log(
        `  ${elapsed().toFixed(0)} s: ${tally.served} requests, RSS ${now} MiB, ${tally.unexpected.size} kinds of unexpected answers`,
      );
    }
  }, 1000);
  const next = traffic(base, clients, tally);
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && server.running() && !interrupted) await next();
    }),
  );
  clearInterval(sampler);
  const duration = elapsed();
  const serverDied = !server.running();
  if (!serverDied) {
    rss.end = rssMb(server.pid);
    rss.max = Math.max(rss.max, rss.end);
  }
  await cleanUp();
  return report({ db, duration, concurrency, tally, serverErrors, serverDied, rss, warmup, interrupted });
}

/** Prints the report, then the same as one JSON line; returns the exit code. */
function report(run: {
  db: string;
  duration: number;
  concurrency: number;
  tally: Tally;
  serverErrors: string[];
  serverDied: boolean;
  rss: Rss;
  warmup: number;
  interrupted: boolean;
}): number {
  const { tally, rss } = run;
  const all = [...tally.latencies.values()].flat().sort((a, b) => a - b);
  const byOperation = Object.fromEntries(
    [...tally.latencies].map(([label, list]) => {
      const sorted = list.sort((a, b) => a - b);
      return [label, { requests: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)) }];
    }),
  );
  const statuses = Object.fromEntries([...tally.statuses].sort(([a], [b]) => a - b));
  const errors = Object.fromEntries(Object.entries(statuses).filter(([status]) => Number(status) >= 400));
  const fiveXx = Object.entries(statuses).reduce((sum, [status, count]) => sum + (Number(status) >= 500 ? count : 0), 0);
  const unexpected = [...tally.unexpected.values()].reduce((sum, u) => sum + u.count, 0);
  const growth = rss.end !== null && rss.warm !== null ? rss.end / rss.warm : null;
  const failures = [
    ...(run.interrupted ? [`interrupted after ${Math.round(run.duration)} s`] : []),
    ...(run.serverDied ? ['the server exited during the run'] : []),
    ...(fiveXx > 0 ? [`${fiveXx} answers with a 5xx`] : []),
    ...(tally.brokenRaces > 0 ? [`${tally.brokenRaces} of ${tally.races} refresh races not won exactly once`] : []),
    ...(unexpected > 0 ? [`${unexpected} unexpected answers`] : []),
    ...(tally.serverErrors > 0 ? [`${tally.serverErrors} errors in the server's log`] : []),
    ...(growth !== null && growth > RSS_GROWTH_LIMIT ? [`RSS grew ${Math.round((growth - 1) * 100)}% after warm-up`] : []),
  ];
  const json = {
    db: run.db,
    seconds: Math.round(run.duration),
    concurrency: run.concurrency,
    requests: tally.served,
    requestsPerSecond: Math.round(tally.served / run.duration),
    statuses,
    errors,
    unexpected: Object.fromEntries(tally.unexpected),
    races: { run: tally.races, broken: tally.brokenRaces },
    latencyMs: { p50: round(percentile(all, 50)), p99: round(percentile(all, 99)) },
    byOperation,
    rssMb: {
      ...rss,
      warmupSeconds: Math.round(run.warmup),
      growthAfterWarmup: growth === null ? null : Math.round((growth - 1) * 100) / 100,
    },
    serverErrors: tally.serverErrors,
    ok: failures.length === 0,
    failures,
  };
  const mb = (value: number | null) => (value === null ? '—' : `${value} MiB`);
  console.log(`\n${json.requests} requests in ${json.seconds} s (${json.requestsPerSecond}/s), ${run.concurrency} workers, ${run.db}`);
  console.log(
    `answers: ${Object.entries(statuses)
      .map(([status, count]) => `${status}×${count}`)
      .join(' ')}`,
  );
  console.log(`latency: p50 ${json.latencyMs.p50} ms, p99 ${json.latencyMs.p99} ms`);
  for (const [label, { requests, p50, p99 }] of Object.entries(byOperation))
    console.log(`  ${label.padEnd(28)} ${String(requests).padStart(7)}  p50 ${p50} ms  p99 ${p99} ms`);
  console.log(`refresh races: ${tally.races}, not won exactly once: ${tally.brokenRaces}`);
  console.log(`unexpected answers: ${unexpected === 0 ? 'none' : unexpected}`);
  for (const [what, { count, example }] of tally.unexpected) console.log(`  ${count}× ${what}: ${example}`);
  for (const line of run.serverErrors) console.log(`server log: ${line}`);
  console.log(
    `server RSS: start ${mb(rss.start)}, after warm-up (${Math.round(run.warmup)} s) ${mb(rss.warm)}, ` +
      `at 1 minute ${mb(rss.oneMinute)}, end ${mb(rss.end)}, max ${mb(rss.max)}`,
  );
  console.log(failures.length === 0 ? 'soak: OK' : `soak: FAILED — ${failures.join('; ')}`);
  console.log(JSON.stringify(json));
  return failures.length === 0 ? 0 : 1;
}

process.on('SIGINT', () => {
  if (interrupted) void cleanUp().then(() => process.exit(130));
  interrupted = true;
});
void main()
  .catch(async (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    await cleanUp();
    return 1;
  })
  .then((code) => process.exit(code));
