// `npm run bench [-- --pg] [--duration S] [--warmup S] [--tokens N] [--quick] [--write] [--only WORD] [--profile DIR] [--no-wrk]`
// Measures Tessera against a bare Fastify route in the same run, on the same machine: both
// servers run as child processes, and wrk (C, with the Lua scripts in scripts/bench/) loads one at
// a time with 32 connections. Not autocannon from this Node process: on these 2 cores it capped the
// baseline (25k req/s where wrk reached 33k in the same minute), which inflated every ratio.
// Prints a table of req/s, p50, p99, non-2xx, the load generator's and the server's CPU share and
// the ratio to the baseline (for the password grant, to the raw Argon2id verify rate with the same
// parameters), then introspection with a large token table and the server's RSS. Without wrk on
// PATH (or with --no-wrk) the load comes from autocannon in worker threads, with a loud notice.
// --write puts the results in bench/RESULTS.md.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash, pbkdf2, pbkdf2Sync, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import argon2 from 'argon2';
import autocannon from 'autocannon';
import pg from 'pg';
// src/ APIs: used in the seeding section below and nowhere else.
import { loadConfig } from '../src/config.js';
import { ARGON2_OPTIONS } from '../src/domain/passwords.js';
import { createLogger } from '../src/logger.js';
import { pgPoolConfig } from '../src/store/dialects/postgresql.js';
import { Tessera } from '../src/tessera.js';
import { ACCESS_TOKEN_PREFIX, newOpaqueToken, tokenDigest } from '../src/tokens/opaque.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { deliveryDelays, kitRates, openListeners } from './bench-services.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = flag('quick');
const usePg = flag('pg');
const duration = option('duration', quick ? 1 : 10);
const warmup = option('warmup', quick ? 1 : 3);
const bigTable = option('tokens', quick ? 20_000 : 1_000_000);
/** --only WORD: run only the cases whose name contains WORD (and the baseline). */
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const wanted = (name: string) => !only || name.includes(only);
const profileDir = args.includes('--profile') ? args[args.indexOf('--profile') + 1] : undefined;
const CONNECTIONS = 32;
/**
 * wrk's threads (the 32 connections are split among them): each run measures the bare route with
 * -t1 and with -t2 and keeps whichever reached more, for the baseline and every case. On this
 * machine's 2 vCPUs -t1 reached more in 14 of 18 alternating 5 s pairs (median +4%; 33k against
 * 27k in a full run): the server's event loop holds one core at 100% either way, and wrk needs
 * ~0.4 core whether it runs one thread or two. That margin is inside the run-to-run noise here
 * (±20% between consecutive runs), and on more cores -t2 may win: so the run decides, and its
 * baseline is never below the one wrk -t2 -c32 reaches in the same run.
 */
const WRK_THREADS = [1, 2];
/**
 * The fallback's worker threads, one per core here. In 5 s runs on the bare route, 1 or 2 workers
 * reached no more than autocannon in one thread (21–25k req/s; wrk 27–41k): autocannon needs about a
 * core for what wrk does with 0.4, hence the loud notice.
 */
const FALLBACK_WORKERS = 2;
const SECRET = 'bench-secret-bench-secret-bench-secret-01';
/** The code-flow client's redirect URI: nothing listens there, the bench reads the redirect. */
const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const PASSWORD = 'bench password 123';
const benchDir = join(root, 'scripts/bench');
const cores = cpus().length;

// ────────────────────────────────────────────────────────────────────────────────────────────────
// Seeding: the only code in this script that uses src/ APIs (imported at the top). After a change
// to those APIs, adapt this section alone.
// ────────────────────────────────────────────────────────────────────────────────────────────────

/** The password grant's Argon2id parameters, for the raw verify rate it is compared with. */
const argon2Options = ARGON2_OPTIONS;
/** pg's connection settings for a database URL (to create and drop the run's database). */
const pgConfig = (url: string) => pgPoolConfig(url);

/** Opens the run's database (migrating it), registers the clients and creates the user. */
async function seed(env: NodeJS.ProcessEnv) {
  const config = loadConfig(env);
  const core = await Tessera.open(config, createLogger('warn'), { schema: 'apply' });
  const introspector = await core.clients.register({ name: 'bench rs', introspect: true });
  const opaqueCc = await core.clients.register({ name: 'bench opaque', accessTtl: 3600 });
  // An hour's lifetime: the seeded tokens must outlive the run.
  const jwtCc = await core.clients.register({ name: 'bench jwt', tokenFormat: 'jwt', accessTtl: 3600 });
  const pw = await core.clients.register({ name: 'bench password', grants: ['password'] });
  const user = await core.users.create('bench', undefined, PASSWORD);
  // OpenID Connect: a public code-flow client, codes issued as the sign-in page issues them, and
  // a browser session of the user's (what /authorize reads from the tessera_session cookie).
  const spa = await core.clients.register({ name: 'bench spa', public: true, redirectUris: [REDIRECT_URI], scopes: ['openid', 'read'] });
  const pkce = { verifier: randomBytes(32).toString('base64url'), challenge: '' };
  pkce.challenge = createHash('sha256').update(pkce.verifier).digest('base64url');
  const session = await core.sessions.start(user.id);
  /** `count` unused codes for `scope`, each for one exchange. */
  const issueCodes = async (count: number, scope: string) => {
    const codes: string[] = [];
    for (let done = 0; done < count; done += 500) {
      const batch = Array.from({ length: Math.min(500, count - done) }, () =>
        core.tokens.issueCode({
          clientId: spa.client.id,
          userId: user.id,
          redirectUri: REDIRECT_URI,
          scope,
          codeChallenge: pkce.challenge,
          codeChallengeMethod: 'S256',
          nonce: 'bench-nonce',
          authTime: session.record.authTime,
          sessionId: session.record.id,
        }),
      );
      codes.push(...(await Promise.all(batch)));
    }
    return codes;
  };
  // The JWT client again, authenticating with private_key_jwt (RFC 7523) instead of a secret: one
  // with a P-256 key, one with an Ed25519 key.
  const keyClient = async (alg: 'ES256' | 'EdDSA') => {
    const { publicKey, privateKey } = await generateKeyPair(alg);
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'bench', alg, use: 'sig' }] });
    return { ...(await core.clients.register({ name: `bench key ${alg}`, tokenFormat: 'jwt', accessTtl: 3600, jwks })), alg, privateKey };
  };
  const keyClients = [await keyClient('ES256'), await keyClient('EdDSA')];

  /** `count` more live opaque access tokens in the table, stored directly. */
  const storeMoreTokens = async (count: number) => {
    for (let done = 0; done < count; done += 10_000) {
      const now = new Date();
      const batch = Array.from({ length: Math.min(10_000, count - done) }, () => ({
        digest: tokenDigest(newOpaqueToken(ACCESS_TOKEN_PREFIX)),
        clientId: opaqueCc.client.id,
        userId: null,
        grantId: null,
        scope: '',
        issuedAt: now,
        expiresAt: new Date(now.getTime() + 3600_000),
      }));
      await core.store.tokens.saveAccessTokens(batch);
    }
  };
  /**
   * `count` users brought over by `tessera import django`'s own code, each with a pbkdf2_sha256
   * hash of PASSWORD at `iterations` in Django's format: each one's first sign-in verifies that hash
   * and replaces it by Argon2id.
   */
  const importDjangoUsers = async (count: number, iterations: number) => {
    const usernames = Array.from({ length: count }, (_, i) => `django-${iterations}-${i}`);
    const records = usernames.map((username, i) => {
      const salt = randomBytes(16).toString('base64url');
      const hash = pbkdf2Sync(PASSWORD, salt, iterations, 32, 'sha256').toString('base64');
      return {
        model: 'auth.user',
        pk: iterations + i,
        fields: { username, password: `pbkdf2_sha256$${iterations}$${salt}$${hash}`, is_active: true },
      };
    });
    await core.adminServices.djangoImport.run(JSON.stringify(records));
    return usernames;
  };
  /** A sign-in's password check, as the password grant and the sign-in page make it. */
  const signIn = async (username: string) => {
    if (!(await core.users.authenticate(username, PASSWORD))) throw new Error(`${username} could not sign in`);
  };
  return {
    introspector,
    opaqueCc,
    jwtCc,
    pw,
    keyClients,
    spa: { id: spa.client.id, verifier: pkce.verifier, challenge: pkce.challenge, sessionCookie: session.value },
    issueCodes,
    storeMoreTokens,
    importDjangoUsers,
    signIn,
    close: () => core.close(),
  };
}

// ── End of seeding ──────────────────────────────────────────────────────────────────────────────

interface Row extends Load {
  name: string;
  ratio: string;
  target: string;
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

function rssMb(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Clock ticks per second: the unit of utime and stime in /proc/<pid>/stat. */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) a process has used so far; NaN without /proc. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: count the fields from after its closing parenthesis (field 3 on).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** CPU seconds over a wall-clock window, as a share of all the machine's cores. */
const share = (cpu: number, wallSeconds: number) => cpu / (wallSeconds * cores);

/**
 * What a case sends: POSTs to `path`, either cycling through `bodies` (form-encoded) or, for
 * rotating refresh, each taking a refresh token from `pool`; a run leaves the live tokens in `pool`.
 */
type Work = { path: string; headers: Record<string, string>; method?: 'GET' } & ({ bodies: string[] } | { pool: string[] });

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  /** The load generator's and the server's CPU over the measured window, shares of all cores. */
  genCpu: number;
  serverCpu: number;
}

interface Generator {
  name: string;
  run(port: number, server: ChildProcess, work: Work, seconds: number): Promise<Load>;
}

/** The JSON line scripts/bench/common.lua prints from wrk's done(). */
interface WrkResult {
  requests: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  non2xx: number;
  socket_errors: number;
  /** wrk's own utime + stime at done(), after its threads were joined; -1 without /proc. */
  cpu_ticks: number;
  pool?: string[];
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** wrk with scripts/bench/cycle.lua or rotate.lua; inputs go through a file in the scratch dir. */
function wrk(threads: number, scratch: string): Generator {
  return {
    name: `wrk -t${threads} -c${CONNECTIONS}`,
    async run(port, server, work, seconds) {
      const input = join(scratch, 'wrk-input.txt');
      writeFileSync(input, `${('pool' in work ? work.pool : work.bodies).join('\n')}\n`);
      const child = spawn(
        'wrk',
        [
          // wrk runs whole seconds; its 2 s default timeout would cut the password grant's tail.
          ...['-t', String(threads), '-c', String(CONNECTIONS), '-d', `${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s'],
          ...['-s', join(benchDir, 'pool' in work ? 'rotate.lua' : 'cycle.lua')],
          ...Object.entries(work.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
          `http://127.0.0.1:${port}${work.path}`,
        ],
        {
          env: {
            ...process.env,
            BENCH_LUA_DIR: benchDir,
            BENCH_INPUT: input,
            BENCH_THREADS: String(threads),
            BENCH_METHOD: work.method ?? 'POST',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const serverBefore = cpuSeconds(server.pid);
      const started = performance.now();
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', resolve);
      });
      const wall = (performance.now() - started) / 1000;
      const serverCpu = cpuSeconds(server.pid) - serverBefore;
      const line = /^BENCH_RESULT (.*)$/m.exec(out)?.[1];
      if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}):\n${out}`);
      const r = JSON.parse(line) as WrkResult;
      if ('pool' in work) work.pool.splice(0, work.pool.length, ...(r.pool ?? []));
      return {
        rps: r.requests / (r.duration_us / 1e6),
        p50: r.p50_us / 1000,
        p99: r.p99_us / 1000,
        non2xx: r.non2xx + r.socket_errors,
        genCpu: r.cpu_ticks >= 0 ? share(r.cpu_ticks / CLK_TCK, wall) : NaN,
        serverCpu: share(serverCpu, wall),
      };
    },
  };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** The request autocannon sends, with what the worker modules in scripts/bench/ read from it. */
type CannonRequest = autocannon.Request & { bodiesFile?: string; poolDir?: string; startDir?: string };

/**
 * autocannon: with `workers`, in that many worker threads (the fallback without wrk; the request
 * hooks are the modules scripts/bench/autocannon-*.cjs); with 0, in this process's main thread
 * (the old generator, measured on the baseline for comparison).
 */
function cannon(workers: number, scratch: string): Generator {
  return {
    name: workers ? `autocannon (${workers} worker threads)` : 'autocannon (one Node process)',
    async run(port, server, work, seconds) {
      const base = { method: work.method ?? 'POST', path: work.path, headers: work.headers } as const;
      const poolDir = join(scratch, 'autocannon-pool');
      const startDir = join(scratch, 'autocannon-start');
      rmSync(startDir, { recursive: true, force: true });
      if (workers) mkdirSync(startDir);
      let request: CannonRequest;
      if (workers && 'pool' in work) {
        // One slice of the pool per worker; each worker writes back what it has left.
        rmSync(poolDir, { recursive: true, force: true });
        mkdirSync(poolDir);
        for (let k = 0; k < workers; k++) {
          writeFileSync(join(poolDir, `slice-${k}.txt`), work.pool.filter((_, i) => i % workers === k).join('\n'));
        }
        request = {
          ...base,
          poolDir,
          startDir,
          setupRequest: join(benchDir, 'autocannon-rotate.cjs'),
          onResponse: join(benchDir, 'autocannon-rotate-response.cjs'),
        };
      } else if (workers && 'bodies' in work) {
        const bodiesFile = join(scratch, 'autocannon-bodies.txt');
        writeFileSync(bodiesFile, work.bodies.join('\n'));
        request = { ...base, bodiesFile, startDir, setupRequest: join(benchDir, 'autocannon-cycle.cjs') };
      } else if ('pool' in work) {
        const pool = work.pool;
        request = {
          ...base,
          setupRequest: (req) => ({ ...req, body: form({ refresh_token: pool.shift() ?? 'pool-exhausted' }) }),
          onResponse: (status, body) => {
            if (status === 200) pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
          },
        };
      } else {
        const bodies = work.bodies;
        let i = 0;
        request = { ...base, setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }) };
      }
      const serverBefore = cpuSeconds(server.pid);
      let start = { at: performance.timeOrigin + performance.now(), cpuMicros: cpuMicros() };
      const result = await autocannon({
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        duration: seconds,
        requests: [request],
        ...(workers ? { workers } : {}),
      });
      const end = { at: performance.timeOrigin + performance.now(), cpuMicros: cpuMicros() };
      const serverCpu = cpuSeconds(server.pid) - serverBefore;
      if (workers) {
        // The window starts when the last worker sent its first request (see autocannon-start.cjs).
        for (const file of readdirSync(startDir)) {
          const started = JSON.parse(readFileSync(join(startDir, file), 'utf8')) as typeof start;
          if (started.at > start.at) start = started;
        }
      }
      if (workers && 'pool' in work) work.pool.splice(0, work.pool.length, ...(await leftInPool(poolDir, workers)));
      const wall = (end.at - start.at) / 1000;
      return {
        // Completed requests over the workers' own load time (not the mean of per-second samples,
        // which a 1 s run and the workers' staggered start make unreliable).
        rps: result.requests.total / result.duration,
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx + result.errors,
        genCpu: share((end.cpuMicros - start.cpuMicros) / 1e6, wall),
        // The server is idle until the load starts: its CPU from before the call is this window's.
        serverCpu: share(serverCpu, wall),
      };
    },
  };
}

/** This process's CPU time so far (all threads: autocannon's workers included), in µs. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The tokens autocannon's workers had left: each writes its slice-K.left as its thread exits. */
async function leftInPool(dir: string, workers: number): Promise<string[]> {
  const files = Array.from({ length: workers }, (_, k) => join(dir, `slice-${k}.left`));
  for (let i = 0; i < 200 && !files.every((f) => existsSync(f)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!files.every((f) => existsSync(f))) throw new Error(`autocannon's workers left no pool in ${dir}`);
  return files.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean));
}

/** A case: warm up, then measure. */
async function measure(generator: Generator, port: number, server: ChildProcess, work: Work): Promise<Load> {
  await generator.run(port, server, work, warmup);
  return generator.run(port, server, work, duration);
}

/** Raw Argon2id verifications per second at the concurrency libuv gives the server (4 threads). */
async function argon2Rate(seconds: number): Promise<number> {
  const hash = await argon2.hash(PASSWORD, argon2Options);
  let done = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < until) {
        await argon2.verify(hash, PASSWORD);
        done++;
      }
    }),
  );
  return done / seconds;
}

async function main() {
  // A database of the run's own.
  const scratch = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  let databaseUrl = `file:${join(scratch, 'tessera.db')}`;
  let dropPg: (() => Promise<void>) | undefined;
  if (usePg) {
    const admin = process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
    const name = `tessera_bench_${randomBytes(4).toString('hex')}`;
    const run = async (sql: string) => {
      const client = new pg.Client(pgConfig(admin));
      await client.connect();
      await client.query(sql);
      await client.end();
    };
    await run(`CREATE DATABASE "${name}"`);
    dropPg = () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
  }
  const children: ChildProcess[] = [];
  const cleanup = async () => {
    await Promise.all(
      children
        .filter((child) => child.exitCode === null && child.signalCode === null)
        .map((child) => {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          return exited;
        }),
    );
    rmSync(scratch, { recursive: true, force: true });
    await dropPg?.();
  };

  const hasWrk = !flag('no-wrk') && onPath('wrk');
  const noWrk = flag('no-wrk') ? '--no-wrk' : 'wrk not found';
  const candidates = hasWrk ? WRK_THREADS.map((threads) => wrk(threads, scratch)) : [cannon(FALLBACK_WORKERS, scratch)];
  if (!hasWrk) {
    const bar = '!'.repeat(96);
    console.log(
      `${bar}\n!! ${flag('no-wrk') ? '--no-wrk' : 'wrk is not on PATH'}: the load generator is ${candidates[0]!.name}, in this Node process.\n` +
        `!! It needs more CPU than wrk on the same cores and can cap the baseline, which inflates every ratio.\n` +
        `!! Install wrk (Debian: apt-get install wrk) for figures that measure the server.\n${bar}`,
    );
  }

  try {
    const port = await freePort();
    const env = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      TESSERA_SECRET: SECRET,
      TESSERA_DATA_DIR: scratch,
      PORT: String(port),
      TESSERA_ADMIN_PORT: '0',
      LOG_LEVEL: 'warn',
      // The code exchange's codes are issued before its run: they must outlive it.
      TESSERA_CODE_TTL: '600',
    };
    const seeded = await seed(env);
    const { introspector, opaqueCc, jwtCc, pw, keyClients } = seeded;
    const url = `http://127.0.0.1:${port}`;
    const issuer = `http://localhost:${port}`;

    // --profile DIR: the server writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
    const profiling = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const startServer = () => {
      const child = spawn(process.execPath, [...profiling, 'bin/tessera.js', 'serve'], {
        cwd: root,
        env,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      children.push(child);
      return child;
    };
    let server = startServer();
    const basePort = await freePort();
    const baseline = fork(join(root, 'scripts/bench-baseline.ts'), {
      env: { ...process.env, PORT: String(basePort) },
      execArgv: ['--import', 'tsx'],
      stdio: 'inherit',
    });
    children.push(baseline);
    await Promise.all([
      waitFor(`http://127.0.0.1:${port}/healthz`),
      waitFor(`http://127.0.0.1:${basePort}/baseline`).catch(() => undefined),
    ]);
    await new Promise((r) => baseline.once('message', r));

    const token = async (client: { client: { id: string }; secret: string | null }, body: Record<string, string>) => {
      const res = await fetch(`http://127.0.0.1:${port}/token`, {
        method: 'POST',
        headers: { ...FORM, authorization: basic(client.client.id, client.secret!) },
        body: form(body),
      });
      if (!res.ok) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
      return (await res.json()) as { access_token: string; refresh_token?: string };
    };
    const many = async <T>(n: number, make: () => Promise<T>) => {
      const out: T[] = [];
      for (let i = 0; i < n; i += 32) out.push(...(await Promise.all(Array.from({ length: Math.min(32, n - i) }, make))));
      return out;
    };
    const opaqueTokens = (await many(1000, () => token(opaqueCc, { grant_type: 'client_credentials' }))).map((t) => t.access_token);
    const jwts = (await many(1000, () => token(jwtCc, { grant_type: 'client_credentials' }))).map((t) => t.access_token);

    // The baseline with each candidate generator; the one that reached more loads every case.
    const baselineWork: Work = { path: '/baseline', headers: FORM, bodies: opaqueTokens.map((t) => form({ token: t })) };
    const compared: { generator: Generator; load: Load }[] = [];
    for (const candidate of candidates)
      compared.push({ generator: candidate, load: await measure(candidate, basePort, baseline, baselineWork) });
    const { generator, load: base } = compared.reduce((best, next) => (next.load.rps > best.load.rps ? next : best));
    // And with the old generator, autocannon in this process's main thread, to show what it capped.
    const old = cannon(0, scratch);
    compared.push({ generator: old, load: await measure(old, basePort, baseline, baselineWork) });

    const rows: Row[] = [{ name: 'baseline: bare Fastify POST', ...base, ratio: '1.00', target: '' }];
    const add = async (name: string, work: Work, against: number, target: string) => {
      if (!wanted(name)) return undefined;
      const r = await measure(generator, port, server, work);
      rows.push({ name, ...r, ratio: (r.rps / against).toFixed(2), target });
      return r;
    };
    const introspectAuth = { ...FORM, authorization: basic(introspector.client.id, introspector.secret!) };

    const introspectWork: Work = { path: '/introspect', headers: introspectAuth, bodies: opaqueTokens.map((t) => form({ token: t })) };
    const introspect = await add('introspect opaque (1 000 tokens)', introspectWork, base.rps, '>= 0.5, p99 <= 5 ms');
    const verifyWork: Work = { path: '/token/verify', headers: FORM, bodies: jwts.map((t) => form({ token: t })) };
    const verifyJwt = await add('verify JWT', verifyWork, base.rps, '>= 0.5');
    if (verifyJwt) {
      const audience = { ...verifyWork, bodies: jwts.map((t) => form({ token: t, audience: issuer })) };
      await add('verify JWT, with audience', audience, verifyJwt.rps, '>= 0.95 of verify JWT');
    }
    const notes: string[] = [];
    if (verifyJwt && wanted('stream')) {
      // 100 listeners on the revocation stream, idle while /token/verify is loaded, then 20
      // revocations each timed from the /revoke request to every listener's event.
      const listenerCredentials = { id: introspector.client.id, secret: introspector.secret! };
      const listeners = await openListeners(url, listenerCredentials, 100);
      const idle = await measure(generator, port, server, verifyWork);
      const doomed = (await many(20, () => token(jwtCc, { grant_type: 'client_credentials' }))).map((t) => t.access_token);
      const delivery = await deliveryDelays(url, { id: jwtCc.client.id, secret: jwtCc.secret! }, doomed, listeners);
      for (const listener of listeners) listener.close();
      const after = await measure(generator, port, server, verifyWork);
      const without = (verifyJwt.rps + after.rps) / 2;
      rows.push({
        name: 'verify JWT, 100 idle stream listeners',
        ...idle,
        ratio: `${(idle.rps / without).toFixed(2)} of without`,
        target: '>= 0.95 of without',
      });
      notes.push(
        `Revocation stream: ${delivery.samples} deliveries (20 revocations, each to 100 listeners), from the /revoke request to the event: p50 ${delivery.p50} ms, p99 ${delivery.p99} ms, max ${delivery.max} ms (target: within 1 000 ms). "without" is the mean of verify JWT before the listeners connected (${verifyJwt.rps.toFixed(0)} req/s) and after they left (${after.rps.toFixed(0)} req/s).`,
      );
    }
    if (wanted('kit')) {
      const kit = await kitRates(issuer, { id: introspector.client.id, secret: introspector.secret! }, jwts, Math.max(2, duration / 2));
      notes.push(
        `@tessera/verify in this process, the same key: jose.jwtVerify ${kit.jose.toFixed(0)}/s; the kit's verify() of a JWT it has verified before ${kit.seen.toFixed(0)}/s = ${(kit.seen / kit.jose).toFixed(1)}× jose (target >= 20×), of a JWT new to it ${kit.fresh.toFixed(0)}/s = ${(kit.fresh / kit.jose).toFixed(2)}× jose (target >= 0.9×).`,
      );
    }
    const cc = [form({ grant_type: 'client_credentials' })];
    const ccJwt = await add(
      'client_credentials, JWT',
      { path: '/token', headers: { ...FORM, authorization: basic(jwtCc.client.id, jwtCc.secret!) }, bodies: cc },
      base.rps,
      '>= 0.2',
    );
    await add(
      'client_credentials, opaque',
      { path: '/token', headers: { ...FORM, authorization: basic(opaqueCc.client.id, opaqueCc.secret!) }, bodies: cc },
      base.rps,
      '>= 0.15',
    );

    // Each request carries an assertion of its own (a jti is accepted once), signed beforehand so
    // that the load generator only sends them: as many as the secret-based case reached, which
    // this one cannot outrun, for the warm-up and for the measured run.
    for (const keyCc of ccJwt && wanted('client_credentials, JWT, private_key_jwt') ? keyClients : []) {
      const enough = (seconds: number) => Math.ceil(ccJwt!.rps * seconds) + 2000;
      const assertions = async (count: number) =>
        Promise.all(
          Array.from({ length: count }, async () =>
            form({
              grant_type: 'client_credentials',
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: await new SignJWT({})
                .setProtectedHeader({ alg: keyCc.alg, kid: 'bench' })
                .setIssuer(keyCc.client.id)
                .setSubject(keyCc.client.id)
                .setAudience(issuer)
                .setJti(randomBytes(12).toString('base64url'))
                .setIssuedAt()
                .setExpirationTime('4m')
                .sign(keyCc.privateKey),
            }),
          ),
        );
      await generator.run(port, server, { path: '/token', headers: FORM, bodies: await assertions(enough(warmup)) }, warmup);
      const keyed = await generator.run(
        port,
        server,
        { path: '/token', headers: FORM, bodies: await assertions(enough(duration)) },
        duration,
      );
      rows.push({
        name: `client_credentials, JWT, private_key_jwt (${keyCc.alg})`,
        ...keyed,
        ratio: `${(keyed.rps / ccJwt!.rps).toFixed(2)} of client_secret_basic`,
        target: '>= 0.5 of client_secret_basic',
      });
    }

    // Rotating refresh: a pool of live refresh tokens; each request takes one, and its answer's
    // new refresh token goes back in. Every token is used exactly once.
    const pool = (
      await many(wanted('refresh') ? 64 : 0, () => token(pw, { grant_type: 'password', username: 'bench', password: PASSWORD }))
    ).map((t) => t.refresh_token!);
    await add(
      'refresh, rotating',
      { path: '/token/refresh', headers: { ...FORM, authorization: basic(pw.client.id, pw.secret!) }, pool },
      base.rps,
      '>= 0.08',
    );

    // The authorization code exchange, with and without `openid` (which adds a signed ID token):
    // each request spends a code of its own, issued beforehand for the warm-up and the run.
    if (wanted('code exchange')) {
      const exchanges: Load[] = [];
      for (const scope of ['read', 'openid read']) {
        // More codes than the exchange can spend, and new ones for the measured run (every run
        // starts at the top of its list): a code used twice would end its grant instead.
        const bodiesFor = async (seconds: number) =>
          (await seeded.issueCodes(Math.ceil(seconds * (quick ? 3000 : 6000)), scope)).map((code) =>
            form({
              grant_type: 'authorization_code',
              client_id: seeded.spa.id,
              code,
              redirect_uri: REDIRECT_URI,
              code_verifier: seeded.spa.verifier,
            }),
          );
        const warm = await bodiesFor(warmup);
        const checked = await fetch(`${url}/token`, { method: 'POST', headers: FORM, body: warm.pop() });
        const answer = (await checked.json()) as { id_token?: string };
        if (!checked.ok || scope.includes('openid') !== (answer.id_token !== undefined)) {
          throw new Error(`code exchange (${scope}) answered ${checked.status}: ${JSON.stringify(answer)}`);
        }
        await generator.run(port, server, { path: '/token', headers: FORM, bodies: warm }, warmup);
        exchanges.push(await generator.run(port, server, { path: '/token', headers: FORM, bodies: await bodiesFor(duration) }, duration));
      }
      const [plain, openid] = exchanges as [Load, Load];
      rows.push({ name: 'code exchange', ...plain, ratio: (plain.rps / base.rps).toFixed(2), target: '' });
      rows.push({
        name: 'code exchange, openid (ID token)',
        ...openid,
        ratio: `${(openid.rps / plain.rps).toFixed(2)} of without`,
        target: '>= 0.8 of without',
      });
    }

    // /authorize with a live session: no page, a redirect with a new code. Against a bare GET.
    if (wanted('authorize')) {
      const baseGet = await measure(generator, basePort, baseline, {
        method: 'GET',
        path: '/baseline?a=1&b=2',
        headers: {},
        bodies: ['-'],
      });
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: seeded.spa.id,
        redirect_uri: REDIRECT_URI,
        scope: 'openid read',
        state: 'bench-state',
        nonce: 'bench-nonce',
        code_challenge: seeded.spa.challenge,
        code_challenge_method: 'S256',
      });
      const path = `/authorize?${query}`;
      const headers = { cookie: `tessera_session=${seeded.spa.sessionCookie}` };
      const checked = await fetch(`${url}${path}`, { headers, redirect: 'manual' });
      if (checked.status !== 302 || !checked.headers.get('location')?.includes('code=')) {
        throw new Error(`/authorize with a session answered ${checked.status} ${checked.headers.get('location') ?? ''}`);
      }
      const authorize = await measure(generator, port, server, { method: 'GET', path, headers, bodies: ['-'] });
      rows.push({ name: 'baseline: bare Fastify GET', ...baseGet, ratio: '1.00', target: '' });
      rows.push({
        name: '/authorize, live session (302 with a code)',
        ...authorize,
        ratio: `${(authorize.rps / baseGet.rps).toFixed(2)} of the bare GET`,
        target: '>= 0.3 of the bare GET',
      });
    }

    if (wanted('password grant')) {
      const argonRate = await argon2Rate(Math.max(2, duration / 2));
      const password = await measure(generator, port, server, {
        path: '/token',
        headers: { ...FORM, authorization: basic(pw.client.id, pw.secret!) },
        bodies: [form({ grant_type: 'password', username: 'bench', password: PASSWORD })],
      });
      rows.push({
        name: 'password grant',
        ...password,
        ratio: `${(password.rps / argonRate).toFixed(2)} of argon2 (${argonRate.toFixed(0)}/s)`,
        target: '>= 0.9 of argon2',
      });
    }

    // The first sign-in with an imported Django hash: one PBKDF2 derivation at the hash's own
    // count, then one Argon2id hash to replace it. Measured in this process against exactly those
    // two operations in raw node:crypto and argon2, alternating, as medians of a few sign-ins each.
    if (wanted('imported')) {
      const samples = quick ? 3 : 8;
      const derive = promisify(pbkdf2);
      for (const iterations of [260_000, 1_000_000]) {
        const usernames = await seeded.importDjangoUsers(samples, iterations);
        const signIns: number[] = [];
        const raws: number[] = [];
        for (const username of usernames) {
          let start = performance.now();
          await derive(PASSWORD, randomBytes(16).toString('base64url'), iterations, 32, 'sha256');
          await argon2.hash(PASSWORD, argon2Options);
          raws.push(performance.now() - start);
          start = performance.now();
          await seeded.signIn(username);
          signIns.push(performance.now() - start);
        }
        const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
        notes.push(
          `First sign-in with an imported pbkdf2_sha256 hash of ${iterations.toLocaleString('en')} iterations: median ${median(signIns).toFixed(0)} ms, ` +
            `${(median(signIns) / median(raws)).toFixed(2)}× raw PBKDF2-SHA256 at that count plus one Argon2id hash (${median(raws).toFixed(0)} ms) ` +
            `over ${samples} sign-ins (target <= 1.1×).`,
        );
      }
    }

    const rssAfterAll = rssMb(server);

    // A large token table: the same introspection, with `bigTable` more tokens stored.
    if (introspect) await seeded.storeMoreTokens(bigTable);
    // A fresh server on the large table, so that its memory is the table's doing and not the
    // residue of the Argon2-heavy cases before.
    const stopped = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await stopped;
    server = startServer();
    await waitFor(`http://127.0.0.1:${port}/healthz`);
    const big = introspect ? await measure(generator, port, server, introspectWork) : undefined;
    const rssBigTable = rssMb(server);

    await seeded.close();

    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : 'n/a');
    const cells = (r: Load) => `${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.non2xx} | ${pct(r.genCpu)} | ${pct(r.serverCpu)}`;
    const table = [
      '| case | req/s | p50 | p99 | non-2xx | gen CPU | server CPU | ratio | target |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
      ...rows.map((r) => `| ${r.name} | ${cells(r)} | ${r.ratio} | ${r.target} |`),
      ...(big && introspect
        ? [
            `| introspect opaque, ${bigTable.toLocaleString('en')} more tokens stored | ${cells(big)} | ${(big.rps / introspect.rps).toFixed(2)} of the 1 000-token figure | >= 0.9 |`,
          ]
        : []),
    ].join('\n');
    const heading = `## ${usePg ? 'PostgreSQL' : 'SQLite'} — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    const machine = `${cores} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${CONNECTIONS} connections, ${warmup} s warm-up, ${duration} s per case; load generator: ${generator.name}${hasWrk ? ' (Lua scripts in scripts/bench/)' : ` (${noWrk})`}, on the same cores.`;
    const cpuNote = `gen CPU, server CPU: the load generator's and the server's CPU time (all threads) over each measured window, as a share of all ${cores} cores; the server's is its Node process alone${usePg ? ', without PostgreSQL' : ''}.`;
    const baselines = `${compared.map(({ generator: g, load }) => `with ${g.name}: ${load.rps.toFixed(0)} req/s (gen CPU ${pct(load.genCpu)}, server CPU ${pct(load.serverCpu)})`).join('; ')}`;
    const memory = `Server RSS: ${rssBigTable.toFixed(0)} MB after introspection with ${bigTable.toLocaleString('en')} more tokens stored (target <= 256 MB); ${rssAfterAll.toFixed(0)} MB after every case, the password grant's Argon2id (19 MiB per hash, 4 at once) included.`;
    const kept = `Kept for every case: ${generator.name}${hasWrk ? `, the higher of ${WRK_THREADS.map((t) => `-t${t}`).join(' and ')}` : ` (${noWrk})`}.`;
    const report = `${heading}\n\n${machine}\n\nbaseline ${baselines}. ${kept}\n\n${table}\n\n${cpuNote}\n\n${[...notes, memory].join('\n\n')}\n`;
    console.log(`\n${report}`);
    if (flag('write')) {
      const path = join(root, 'bench/RESULTS.md');
      mkdirSync(join(root, 'bench'), { recursive: true });
      const existing = existsSync(path)
        ? readFileSync(path, 'utf8')
        : '# Benchmark results\n\nMade by `npm run bench` (SQLite) and `npm run bench -- --pg`; see README.\n';
      const title = usePg ? '## PostgreSQL' : '## SQLite';
      const sections = existing.split(/\n(?=## )/).filter((s) => !s.startsWith(title));
      writeFileSync(path, `${[...sections.map((s) => s.trimEnd()), report.trimEnd()].join('\n\n')}\n`);
      console.log(`written to ${path}`);
    }
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
