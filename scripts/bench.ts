// `npm run bench [-- --pg] [--duration S] [--warmup S] [--tokens N] [--quick] [--write] [--profile DIR]`
// Measures Tessera against a bare Fastify route in the same run, on the same machine: both
// servers run as child processes; autocannon (32 connections) loads one at a time from here.
// Prints a table of req/s, p50, p99, non-2xx and the ratio to the baseline (for the password
// grant, to the raw Argon2id verify rate with the same parameters), then introspection with a
// large token table and the server's RSS. --write puts the results in bench/RESULTS.md.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import argon2 from 'argon2';
import autocannon from 'autocannon';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { ARGON2_OPTIONS } from '../src/domain/passwords.js';
import { createLogger } from '../src/logger.js';
import { pgPoolConfig } from '../src/store/connection.js';
import { Tessera } from '../src/tessera.js';
import { ACCESS_TOKEN_PREFIX, newOpaqueToken, tokenDigest } from '../src/tokens/opaque.js';

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
const SECRET = 'bench-secret-bench-secret-bench-secret-01';
const PASSWORD = 'bench password 123';

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
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

type Request = { method: 'POST'; path: string; headers: Record<string, string>; body: string };

async function load(
  port: number,
  requests: autocannon.Request[],
  seconds: number,
): Promise<{ rps: number; p50: number; p99: number; non2xx: number }> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, duration: seconds, requests });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
}

/** A case: warm up, then measure. `make` builds fresh requests for each phase. */
async function measure(port: number, make: () => autocannon.Request[]) {
  await load(port, make(), warmup);
  return load(port, make(), duration);
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function cycling(path: string, headers: Record<string, string>, bodies: string[]): autocannon.Request[] {
  let i = 0;
  return [
    {
      method: 'POST',
      path,
      headers,
      setupRequest: (req: Request) => ({ ...req, body: bodies[i++ % bodies.length]! }),
    } as autocannon.Request,
  ];
}

/** Raw Argon2id verifications per second at the concurrency libuv gives the server (4 threads). */
async function argon2Rate(seconds: number): Promise<number> {
  const hash = await argon2.hash(PASSWORD, ARGON2_OPTIONS);
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
      const client = new pg.Client(pgPoolConfig(admin));
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

  try {
    const port = await freePort();
    const env = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      TESSERA_SECRET: SECRET,
      TESSERA_DATA_DIR: scratch,
      PORT: String(port),
      LOG_LEVEL: 'warn',
    };
    const config = loadConfig(env);
    const core = await Tessera.open(config, createLogger('warn'), { migrate: true });
    const introspector = await core.clients.register({ name: 'bench rs', introspect: true });
    const opaqueCc = await core.clients.register({ name: 'bench opaque', accessTtl: 3600 });
    // An hour's lifetime: the seeded tokens must outlive the run.
    const jwtCc = await core.clients.register({ name: 'bench jwt', tokenFormat: 'jwt', accessTtl: 3600 });
    const pw = await core.clients.register({ name: 'bench password', grants: ['password'] });
    await core.users.create('bench', undefined, PASSWORD);

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

    const rows: Row[] = [];
    const add = async (name: string, run: () => Promise<Awaited<ReturnType<typeof load>>>, against: number, target: string) => {
      if (!wanted(name)) return undefined;
      const r = await run();
      rows.push({ name, ...r, ratio: (r.rps / against).toFixed(2), target });
      return r;
    };
    const introspectAuth = { ...FORM, authorization: basic(introspector.client.id, introspector.secret!) };

    const base = await measure(basePort, () =>
      cycling(
        '/baseline',
        FORM,
        opaqueTokens.map((t) => form({ token: t })),
      ),
    );
    rows.push({ name: 'baseline: bare Fastify POST', ...base, ratio: '1.00', target: '' });
    const introspectCase = () =>
      measure(port, () =>
        cycling(
          '/introspect',
          introspectAuth,
          opaqueTokens.map((t) => form({ token: t })),
        ),
      );
    const introspect = await add('introspect opaque (1 000 tokens)', introspectCase, base.rps, '>= 0.5, p99 <= 5 ms');

    await add(
      'verify JWT',
      () =>
        measure(port, () =>
          cycling(
            '/token/verify',
            FORM,
            jwts.map((t) => form({ token: t })),
          ),
        ),
      base.rps,
      '>= 0.5',
    );
    const cc = form({ grant_type: 'client_credentials' });
    await add(
      'client_credentials, JWT',
      () => measure(port, () => cycling('/token', { ...FORM, authorization: basic(jwtCc.client.id, jwtCc.secret!) }, [cc])),
      base.rps,
      '>= 0.2',
    );
    await add(
      'client_credentials, opaque',
      () => measure(port, () => cycling('/token', { ...FORM, authorization: basic(opaqueCc.client.id, opaqueCc.secret!) }, [cc])),
      base.rps,
      '>= 0.15',
    );

    // Rotating refresh: a pool of live refresh tokens; each request takes one, and its answer's
    // new refresh token goes back in. Every token is used exactly once.
    const pool = (
      await many(wanted('refresh') ? 64 : 0, () => token(pw, { grant_type: 'password', username: 'bench', password: PASSWORD }))
    ).map((t) => t.refresh_token!);
    const refreshRequests = (): autocannon.Request[] => [
      {
        method: 'POST',
        path: '/token/refresh',
        headers: { ...FORM, authorization: basic(pw.client.id, pw.secret!) },
        setupRequest: (req: Request) => ({ ...req, body: form({ refresh_token: pool.shift()! }) }),
        onResponse: (status: number, body: string) => {
          if (status === 200) pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
        },
      } as autocannon.Request,
    ];
    await add('refresh, rotating', () => measure(port, refreshRequests), base.rps, '>= 0.08');

    if (wanted('password grant')) {
      const argonRate = await argon2Rate(Math.max(2, duration / 2));
      const password = await measure(port, () =>
        cycling('/token', { ...FORM, authorization: basic(pw.client.id, pw.secret!) }, [
          form({ grant_type: 'password', username: 'bench', password: PASSWORD }),
        ]),
      );
      rows.push({
        name: 'password grant',
        ...password,
        ratio: `${(password.rps / argonRate).toFixed(2)} of argon2 (${argonRate.toFixed(0)}/s)`,
        target: '>= 0.9 of argon2',
      });
    }

    const rssAfterAll = rssMb(server);

    // A large token table: the same introspection, with `bigTable` more tokens stored.
    for (let done = 0; introspect && done < bigTable; done += 10_000) {
      const now = new Date();
      const batch = Array.from({ length: Math.min(10_000, bigTable - done) }, () => ({
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
    // A fresh server on the large table, so that its memory is the table's doing and not the
    // residue of the Argon2-heavy cases before.
    const stopped = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await stopped;
    server = startServer();
    await waitFor(`http://127.0.0.1:${port}/healthz`);
    const big = introspect ? await introspectCase() : undefined;
    const rssBigTable = rssMb(server);

    await core.close();

    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const table = [
      '| case | req/s | p50 | p99 | non-2xx | ratio | target |',
      '| --- | ---: | ---: | ---: | ---: | --- | --- |',
      ...rows.map((r) => `| ${r.name} | ${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.non2xx} | ${r.ratio} | ${r.target} |`),
      ...(big && introspect
        ? [
            `| introspect opaque, ${bigTable.toLocaleString('en')} more tokens stored | ${big.rps.toFixed(0)} | ${ms(big.p50)} | ${ms(big.p99)} | ${big.non2xx} | ${(big.rps / introspect.rps).toFixed(2)} of the 1 000-token figure | >= 0.9 |`,
          ]
        : []),
    ].join('\n');
    const heading = `## ${usePg ? 'PostgreSQL' : 'SQLite'} — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${CONNECTIONS} connections, ${warmup} s warm-up, ${duration} s per case; load generator on the same cores.`;
    const memory = `Server RSS: ${rssBigTable.toFixed(0)} MB after introspection with ${bigTable.toLocaleString('en')} more tokens stored (target <= 256 MB); ${rssAfterAll.toFixed(0)} MB after every case, the password grant's Argon2id (19 MiB per hash, 4 at once) included.`;
    const report = `${heading}\n\n${machine}\n\n${table}\n\n${memory}\n`;
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
