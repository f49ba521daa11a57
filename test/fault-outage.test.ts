// A PostgreSQL outage under load, with the server as a real process: a TCP proxy between it and
// PostgreSQL cuts every connection and refuses new ones for a few seconds, then comes back on the
// same port. Meanwhile requests that need the database answer 503 temporarily_unavailable with
// Retry-After (never 500, never slower than the request time limit), /readyz says 503, and the log
// has one warning line per failure and no stack trace; afterwards the same process serves again,
// and its change feed hears of a revocation made by another instance. On SQLite, the outage that
// can happen — another process holding the lock past the busy timeout — is recognised as one.
import t from 'tap';
import net from 'node:net';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PrismaClient } from '../src/generated/sqlite/client.ts';
import { createLogger } from '../src/logger.ts';
import { pgPoolConfig } from '../src/store/dialects/postgresql.ts';
import { sqlitePath } from '../src/store/dialects/sqlite.ts';
import { databaseOutage } from '../src/store/errors.ts';
import { applyMigrations } from '../src/store/migrate.ts';
import { Tessera } from '../src/tessera.ts';
import { dialect, registerClient, registerUser, testConfig, testDatabase } from './helpers/harness.ts';
import { postForm, startServer, type Answer } from './helpers/server-process.ts';

/** How long the database stays unreachable. */
const OUTAGE_MS = 5000;
/** The server's request time limit (TESSERA_REQUEST_TIMEOUT's default): no answer may take longer. */
const REQUEST_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP proxy to PostgreSQL that can cut every connection and refuse new ones, then come back. */
class Proxy {
  port = 0;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens (again, on the same port). */
  async up(): Promise<void> {
    const server = net.createServer((socket) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const end of [socket, upstream]) {
        this.sockets.add(end);
        end.on('close', () => this.sockets.delete(end));
        end.on('error', () => {});
      }
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Resets every connection at once and stops listening, so that new ones are refused. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const socket of this.sockets) socket.resetAndDestroy();
    await closed;
  }
}

/** What `run` throws (undefined when it does not). */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

interface Outcome extends Partial<Answer> {
  kind: 'token' | 'refresh' | 'verify' | 'ready';
  sentAt: number;
  /** The HTTP status, or 'no answer'. */
  result: number | 'no answer';
}

t.test(
  'a PostgreSQL outage: 503 while it lasts, service and change feed back after',
  { skip: dialect !== 'postgresql' && 'PostgreSQL only: SQLite is a file, with no server to lose' },
  async (t) => {
    const db = await testDatabase(t);
    const config = testConfig(db);
    // Another instance on the real database, reached directly: it registers, and later revokes.
    const other = await Tessera.open(config, createLogger('silent'), { schema: 'apply' });
    t.teardown(() => other.close());
    const registered = await registerClient(other, { grants: ['client_credentials', 'password'], scopes: ['read'] });
    const { username, password } = await registerUser(other);
    const client = { id: registered.id, secret: registered.secret! };

    const real = new URL(db.url);
    const proxy = new Proxy({ host: real.hostname, port: Number(real.port || 5432) });
    await proxy.up();
    t.teardown(() => proxy.down());
    const proxied = new URL(db.url);
    proxied.host = `127.0.0.1:${proxy.port}`;
    const server = await startServer(t, {
      DATABASE_URL: proxied.toString(),
      TESSERA_DATA_DIR: db.dataDir,
      TESSERA_SECRET: config.secret!,
      TESSERA_ISSUER: config.issuer,
    });

    const token = (form: Record<string, string>) => postForm(`${server.url}/token`, form, client);
    const family = await token({ grant_type: 'password', username, password, scope: 'read' });
    t.equal(family.status, 200, 'a refresh family to rotate');
    const cached = await token({ grant_type: 'client_credentials', scope: 'read' });
    t.equal(cached.status, 200, 'an access token to verify');

    const outcomes: Outcome[] = [];
    let loading = true;
    const record = async (kind: Outcome['kind'], request: () => Promise<Answer>): Promise<Outcome> => {
      const sentAt = Date.now();
      let outcome: Outcome;
      try {
        const answer = await request();
        outcome = { kind, ...answer, result: answer.status };
      } catch {
        outcome = { kind, sentAt, ms: Date.now() - sentAt, result: 'no answer' };
      }
      outcomes.push(outcome);
      return outcome;
    };
    const issue = async () => {
      while (loading) {
        await record('token', () => token({ grant_type: 'client_credentials', scope: 'read' }));
        await sleep(5);
      }
    };
    const rotate = async () => {
      let refreshToken = String(family.body.refresh_token);
      while (loading) {
        const outcome = await record('refresh', () => token({ grant_type: 'refresh_token', refresh_token: refreshToken }));
        if (outcome.result === 200) refreshToken = String(outcome.body!.refresh_token);
        // A rotation committed just as its answer was cut off: the retry is a reuse, and the family ends.
        else if (outcome.result !== 503) return;
        await sleep(5);
      }
    };
    const verify = async () => {
      while (loading) {
        await record('verify', () => postForm(`${server.url}/token/verify`, { token: String(cached.body.access_token) }));
        await sleep(5);
      }
    };
    const ready = async () => {
      while (loading) {
        await record('ready', async () => {
          const sentAt = Date.now();
          const response = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(30_000) });
          return {
            status: response.status,
            body: (await response.json()) as Record<string, unknown>,
            retryAfter: null,
            sentAt,
            ms: Date.now() - sentAt,
          };
        });
        await sleep(200);
      }
    };
    const load = Promise.all([issue(), issue(), rotate(), verify(), ready()]);

    await sleep(1500);
    const cutAt = Date.now();
    await proxy.down();
    await sleep(OUTAGE_MS);
    await proxy.up();
    const restoredAt = Date.now();
    const recovered = () => outcomes.find((o) => o.kind === 'token' && o.result === 200 && o.sentAt >= restoredAt);
    while (!recovered() && Date.now() - restoredAt < 30_000) await sleep(50);
    await sleep(1000);
    loading = false;
    await load;

    /** Outcomes counted by kind and status, e.g. {"token 503": 120}. */
    const count = (list: Outcome[]) =>
      list.reduce<Record<string, number>>(
        (counts, o) => ({ ...counts, [`${o.kind} ${o.result}`]: (counts[`${o.kind} ${o.result}`] ?? 0) + 1 }),
        {},
      );
    t.same(
      count(outcomes.filter((o) => o.result === 'no answer' || (o.result >= 500 && o.result !== 503))),
      {},
      'every request was answered, and no answer was a 5xx other than 503',
    );
    const slowest = Math.max(...outcomes.map((o) => o.ms ?? 0));
    t.ok(slowest < REQUEST_TIMEOUT_MS, `no answer took longer than the request time limit (slowest: ${slowest} ms)`);

    // Well inside the outage: sent half a second after the cut, answered before the way back.
    const during = outcomes.filter((o) => o.sentAt >= cutAt + 500 && o.sentAt + (o.ms ?? 0) < restoredAt);
    const needingDatabase = during.filter((o) => o.kind === 'token' || o.kind === 'refresh');
    t.ok(needingDatabase.length > 0, `token requests were made during the outage (${needingDatabase.length})`);
    const unlike503 = needingDatabase.filter(
      (o) => o.result !== 503 || o.body?.error !== 'temporarily_unavailable' || !/^[1-9]$/.test(o.retryAfter ?? ''),
    );
    t.same(count(unlike503), {}, 'every token request during the outage: 503 temporarily_unavailable, with Retry-After of a few seconds');
    const readiness = during.filter((o) => o.kind === 'ready');
    t.ok(readiness.length > 0, 'readiness was asked during the outage');
    t.same(count(readiness.filter((o) => o.result !== 503)), {}, '/readyz: 503 during the outage');

    const back = recovered();
    t.ok(back, 'after the outage the same process issues tokens again');
    const recoveryMs = back ? back.sentAt + back.ms! - restoredAt : NaN;

    // The change feed: its LISTEN connection comes back, and then a revocation made through the other
    // instance reaches this server's cache (which would otherwise keep answering "active").
    const watcher = new pg.Client(pgPoolConfig(db.url));
    await watcher.connect();
    t.teardown(() => watcher.end());
    const listening = async () =>
      (
        await watcher.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN tessera_changes' AND backend_start > now() - make_interval(secs => $1)`,
          [(Date.now() - restoredAt) / 1000],
        )
      ).rows[0]!.n !== '0';
    let relistened = await listening();
    while (!relistened && Date.now() - restoredAt < 20_000) {
      await sleep(100);
      relistened = await listening();
    }
    t.ok(relistened, "the server's change feed listens again");
    const fresh = await token({ grant_type: 'client_credentials', scope: 'read' });
    const verifyFresh = () => postForm(`${server.url}/token/verify`, { token: String(fresh.body.access_token) });
    t.equal((await verifyFresh()).status, 200, 'a new token verifies (and is now cached)');
    const revokedAt = Date.now();
    t.equal(await other.revocation.revoke(String(fresh.body.access_token), null), 'revoked', 'revoked through the other instance');
    let seen = false;
    while (!seen && Date.now() - revokedAt < 5000) {
      seen = (await verifyFresh()).status === 401;
      if (!seen) await sleep(50);
    }
    t.ok(seen, `the server heard of the revocation (after ${Date.now() - revokedAt} ms)`);

    await server.stop('SIGTERM');
    const log = server.log.filter((line) => line.trim() !== '');
    const withStack = log.filter((line) => line.includes('"stack"'));
    t.equal(withStack.length, 0, `no stack trace in the log${withStack[0] ? `, as in: ${withStack[0].slice(0, 300)}` : ''}`);
    const errors = log.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
    t.equal(errors.length, 0, `nothing logged at error level${errors[0] ? `, as: ${errors[0].slice(0, 300)}` : ''}`);
    const warnings = log.filter((line) => line.includes('database unavailable') || line.includes('database not reachable'));
    t.ok(warnings.length > 0, 'the outage is in the log as warnings');

    t.comment(
      `outage of ${OUTAGE_MS} ms: during it ${JSON.stringify(count(during))}; over the whole run ${JSON.stringify(count(outcomes))}; ` +
        `slowest answer ${slowest} ms; first 200 token answer ${recoveryMs} ms after PostgreSQL was reachable again; ` +
        `${warnings.length} warning lines, ${log.length} log lines in all`,
    );
  },
);

t.test(
  'SQLite: a lock held past the busy timeout is an outage (answered 503), a constraint violation is not',
  { skip: dialect !== 'sqlite' && 'SQLite only' },
  async (t) => {
    const db = await testDatabase(t);
    await applyMigrations(db.url);
    const path = sqlitePath(db.url);
    // Another process's writer, holding the lock; the writers below wait 0 ms instead of 10 s.
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    t.teardown(() => {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      holder.close();
    });
    // As the hot path's statements meet it: better-sqlite3's own error.
    const raw = new Database(path, { timeout: 0 });
    t.teardown(() => raw.close());
    t.match(databaseOutage(thrownBy(() => raw.prepare('DELETE FROM "ChangeEvent"').run())), { code: 'SQLITE_BUSY' }, "the driver's error");
    // As Prisma's statements meet it: its error around the adapter's.
    const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: path, timeout: 0 }) });
    t.teardown(() => prisma.$disconnect());
    const failed = await prisma.changeEvent.deleteMany().then(
      () => undefined,
      (error: unknown) => error,
    );
    t.match(databaseOutage(failed), { code: 'SQLITE_BUSY', message: 'database is locked' }, "Prisma's error");
    // Once the lock is gone, a failure of another kind is no outage.
    holder.exec('ROLLBACK');
    const insert = raw.prepare('INSERT INTO "ChangeEvent" ("id", "kind", "subject") VALUES (1, ?, ?)');
    insert.run('user', 'x');
    const duplicate = thrownBy(() => insert.run('user', 'x'));
    t.match(duplicate, { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    t.equal(databaseOutage(duplicate), undefined, 'a bug is not an outage');
  },
);
