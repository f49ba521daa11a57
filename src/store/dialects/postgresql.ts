// PostgreSQL, for production: one pool shared by Prisma and the hot path's raw statements, and a
// change feed carried by LISTEN/NOTIFY.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { PoolConfig } from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/postgresql/client.ts';
import { ConfigError } from '../../config.js';
import type { NewAccessToken, NewAuthorizationCode } from '../../records.js';
import { decodeChange } from '../changes.js';
import type { Database, Db, DialectModule } from '../dialect.js';
import {
  findRefreshSql,
  refreshRecordFrom,
  refreshRow,
  successorRow,
  type CodeUse,
  type GrantStart,
  type HotPath,
  type Rotation,
  type UsedAssertion,
} from '../hot-path.js';
import {
  ACCESS_TOKEN,
  AUTHORIZATION_CODE,
  GRANT,
  REFRESH_TOKEN,
  USED_ASSERTION,
  column,
  quote,
  valuesOf,
  type Kind,
  type Table,
} from '../sql.js';

/** The advisory lock key that orders revocation log writes (any constant no other code uses). */
const REVOCATION_LOCK = 0x7e55e4a;
const CHANNEL = 'tessera_changes';

/** A timestamp(3) column holds UTC without a zone, as Prisma writes it. */
const stored = (date: Date) => date.toISOString().slice(0, -1);

/** libpq's sslmode values (PostgreSQL's "SSL Support" chapter, table "SSL Mode Descriptions"). */
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/**
 * A request meets an unreachable server within this, well inside its own time limit; it is also
 * the longest a query waits for a pooled connection.
 */
const CONNECT_TIMEOUT_MS = 3000;

export interface PgTls {
  ssl: PoolConfig['ssl'];
  /** For the operator, once at start: the connection is encrypted but any certificate is accepted. */
  warning?: string;
}

function readRootCert(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`DATABASE_URL: cannot read the sslrootcert file "${path}": ${(error as Error).message}`);
  }
}

/**
 * sslmode and sslrootcert as libpq reads them, as node-postgres TLS options: verify-full checks the
 * certificate chain and the host name, verify-ca the chain only (against sslrootcert, which it
 * needs). A root certificate makes libpq check the chain in any mode, so prefer and require check
 * it when sslrootcert is given, and encrypt without checking anything when not. Where libpq would
 * look for ~/.postgresql/root.crt, verify-full trusts Node's bundled roots. node-postgres cannot
 * fall back between plain and TLS as libpq does, so allow and prefer get their first choice.
 * Without sslmode, node-postgres's default stands (PGSSLMODE, else plain) unless sslrootcert is
 * given (then libpq's default, prefer).
 */
export function pgTls(url: URL): PgTls {
  const rootCert = url.searchParams.get('sslrootcert');
  const mode = url.searchParams.get('sslmode') ?? (rootCert === null ? null : rootCert === 'system' ? 'verify-full' : 'prefer');
  if (mode === null) return { ssl: undefined };
  if (!SSL_MODES.includes(mode)) throw new ConfigError(`DATABASE_URL: sslmode must be one of ${SSL_MODES.join(', ')}, not "${mode}"`);
  // libpq (16+): the system's trusted roots only with the host name check, since with the chain
  // check alone a certificate any public CA issued, for any name, would pass.
  if (rootCert === 'system') {
    if (mode !== 'verify-full') throw new ConfigError(`DATABASE_URL: sslrootcert=system needs sslmode=verify-full, not "${mode}"`);
    return { ssl: { rejectUnauthorized: true } };
  }
  if (mode === 'disable' || mode === 'allow') return { ssl: false };
  const ca = rootCert === null ? undefined : readRootCert(rootCert);
  if (mode === 'verify-full') return { ssl: { rejectUnauthorized: true, ...(ca && { ca }) } };
  if (ca) return { ssl: { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined } };
  // libpq refuses it too: there is nothing to check the chain against.
  if (mode === 'verify-ca') throw new ConfigError('DATABASE_URL: sslmode=verify-ca needs sslrootcert=<the CA certificate file>');
  return {
    ssl: { rejectUnauthorized: false },
    warning: `PostgreSQL: sslmode=${mode} encrypts the connection but does not verify the server's certificate, so anyone on the way can pose as the database: use sslmode=verify-full (or verify-ca) with sslrootcert`,
  };
}

/**
 * The pool's settings, and the LISTEN connection's and the migrations' (the same TLS for all).
 * Discrete connection fields: adapter-pg's shadow database override needs them (not a URL).
 */
export function pgPoolConfig(databaseUrl: string): PoolConfig {
  const url = new URL(databaseUrl);
  return {
    host: decodeURIComponent(url.hostname) || '127.0.0.1',
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username) || undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    ssl: pgTls(url).ssl,
    max: Number(url.searchParams.get('connection_limit') ?? 10),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Idle pooled connections must not keep a finished process (the admin command) alive.
    allowExitOnIdle: true,
  };
}

// Rows travel as one array per column and are unnested, so that a batch is one statement (its
// own transaction, one round trip) whose text never changes with the batch size.
const ARRAY_TYPE: Record<Kind, string> = { text: 'text[]', 'text?': 'text[]', date: 'timestamp(3)[]', 'date?': 'timestamp(3)[]' };

interface ColumnGroup {
  /** The columns' names in `unnest(...) AS alias(...)`: prefix + column. */
  names: string[];
  /** The matching array parameters, numbered on from the group before. */
  parameters: string[];
}

/** Groups of columns side by side in one unnest, their parameters numbered $1, $2, … across them. */
function columnGroups(...groups: { table: Table; prefix: string }[]): ColumnGroup[] {
  let next = 1;
  return groups.map(({ table, prefix }) => ({
    names: table.insert.map((name) => quote(prefix + name)),
    parameters: table.insert.map((name) => `$${next++}::${ARRAY_TYPE[table.columns[name]!]}`),
  }));
}

/** `unnest(...) AS alias(...)` over column groups of equal length. */
const unnestFrom = (alias: string, groups: ColumnGroup[]) =>
  `unnest(${groups.flatMap((u) => u.parameters).join(', ')}) AS ${alias}(${groups.flatMap((u) => u.names).join(', ')})`;

/** One array per inserted column, in order, for the rows; a null row (no access token) is a row of nulls. */
function columnArrays<C extends string>(table: Table<C>, rows: readonly (Readonly<Record<C, string | Date | null>> | null)[]) {
  const values = rows.map((row) => (row ? valuesOf(table, row, stored) : null));
  return table.insert.map((_, i) => values.map((row) => (row ? row[i] : null)));
}

/** `INSERT INTO table (columns) SELECT prefixed columns FROM source`. */
const insertFrom = (table: Table, prefix: string, source: string) =>
  `INSERT INTO ${quote(table.name)} (${table.insert.map(quote).join(', ')}) SELECT ${table.insert.map((name) => quote(prefix + name)).join(', ')} FROM ${source}`;

const ACCESS = { table: ACCESS_TOKEN, prefix: 'a_' };
const REFRESH = { table: REFRESH_TOKEN, prefix: 'r_' };
/** Access tokens are optional per row (JWT clients have none): rows without one are skipped. */
const insertAccessFrom = (source: string) => `${insertFrom(ACCESS_TOKEN, 'a_', source)} WHERE "a_digest" IS NOT NULL`;

const r = column(REFRESH_TOKEN);
const g = column(GRANT);

const INSERT_ACCESS = insertAccessFrom(unnestFrom('i', columnGroups(ACCESS)));
const INSERT_CODES = insertFrom(AUTHORIZATION_CODE, '', unnestFrom('i', columnGroups({ table: AUTHORIZATION_CODE, prefix: '' })));

// The primary key decides a replay: of two transactions inserting one key, the second waits for
// the first and then does nothing, so it does not return the key.
const c = column(AUTHORIZATION_CODE);
const CONSUME_CODES = `
  UPDATE ${quote(AUTHORIZATION_CODE.name)} AS code SET ${c('consumedAt')} = $3, ${c('grantId')} = i."grantId"
  FROM unnest($1::text[], $2::text[]) AS i("digest", "grantId")
  WHERE code.${c('digest')} = i."digest" AND code.${c('consumedAt')} IS NULL
  RETURNING code.${c('digest')} AS "digest"`;

const RECORD_ASSERTIONS = `${insertFrom(USED_ASSERTION, '', unnestFrom('i', columnGroups({ table: USED_ASSERTION, prefix: '' })))} ON CONFLICT DO NOTHING RETURNING "key"`;

// One row per start; foreign keys are checked at the end of the statement, when the grants exist.
const START_GRANTS = `
  WITH input AS (SELECT * FROM ${unnestFrom('i', columnGroups({ table: GRANT, prefix: 'g_' }, REFRESH, ACCESS))}),
  grants AS (${insertFrom(GRANT, 'g_', 'input')}),
  refresh AS (${insertFrom(REFRESH_TOKEN, 'r_', 'input')}),
  access AS (${insertAccessFrom('input')})
  SELECT 1`;

/** Per rotation, beside the successor's and the access token's columns: not a table, but unnested alike. */
const ROTATION: Table<'used' | 'grantExpires' | 'grantExtended'> = {
  name: 'rotation',
  columns: { used: 'text', grantExpires: 'date', grantExtended: 'date' },
  insert: ['used', 'grantExpires', 'grantExtended'],
};
const ROTATE_GROUPS = columnGroups({ table: ROTATION, prefix: '' }, REFRESH, ACCESS);

// The consuming UPDATE decides the race: a concurrent transaction that consumed the same token
// first makes PostgreSQL re-check the WHERE clause after it commits, and the row drops out, so
// the rotation that lost writes nothing.
const ROTATE = `
  WITH input AS (SELECT * FROM ${unnestFrom('i', ROTATE_GROUPS)}),
  won AS (
    UPDATE ${quote(REFRESH_TOKEN.name)} t SET ${r('consumedAt')} = $${ROTATE_GROUPS.flatMap((u) => u.names).length + 1}::timestamp(3)
      FROM input i
     WHERE t.${r('digest')} = i."used" AND t.${r('consumedAt')} IS NULL AND t.${r('revokedAt')} IS NULL
    RETURNING i.*
  ),
  successors AS (${insertFrom(REFRESH_TOKEN, 'r_', 'won')}),
  access_tokens AS (${insertAccessFrom('won')}),
  extended AS (
    UPDATE ${quote(GRANT.name)} t SET ${g('expiresAt')} = w."grantExtended"
      FROM won w WHERE t.${g('id')} = w."r_grantId" AND t.${g('expiresAt')} < w."grantExpires"
  )
  SELECT "used" FROM won`;

// Dates read as timestamptz (AT TIME ZONE 'UTC'), so that pg parses them the same whatever the
// process's own time zone.
const FIND_REFRESH = findRefreshSql('$1', (sql, kind) => (kind === 'date' || kind === 'date?' ? `${sql} AT TIME ZONE 'UTC'` : sql));

class PostgresHotPath implements HotPath {
  constructor(private readonly pool: pg.Pool) {}

  // The simple statements are named, so each connection parses them once.
  async insertAccessTokens(tokens: NewAccessToken[]): Promise<void> {
    await this.pool.query({ name: 'tessera_insert_access', text: INSERT_ACCESS, values: columnArrays(ACCESS_TOKEN, tokens) });
  }

  async insertCodes(codes: NewAuthorizationCode[]): Promise<void> {
    await this.pool.query({ name: 'tessera_insert_codes', text: INSERT_CODES, values: columnArrays(AUTHORIZATION_CODE, codes) });
  }

  async consumeCodes(uses: CodeUse[], now: Date): Promise<boolean[]> {
    const result = await this.pool.query<{ digest: string }>({
      name: 'tessera_consume_codes',
      text: CONSUME_CODES,
      values: [uses.map((use) => use.digest), uses.map((use) => use.grantId), stored(now)],
    });
    const won = new Set(result.rows.map((row) => row.digest));
    return uses.map((use) => won.has(use.digest));
  }

  async startGrants(starts: GrantStart[], now: Date): Promise<void> {
    await this.pool.query({
      name: 'tessera_start_grants',
      text: START_GRANTS,
      values: [
        ...columnArrays(
          GRANT,
          starts.map((s) => ({ ...s.grant, createdAt: now })),
        ),
        ...columnArrays(
          REFRESH_TOKEN,
          starts.map((s) => refreshRow(s.refresh, s.grant.id, now)),
        ),
        ...columnArrays(
          ACCESS_TOKEN,
          starts.map((s) => s.access),
        ),
      ],
    });
  }

  /**
   * Not a named statement: a named statement's plan is fixed after a few runs, and one fixed
   * while the table was small is a sequential scan that stays as the table grows (measured: 2 000
   * rotations/s falling, against 5 600 steady when planned on every run).
   */
  async rotate(rotations: Rotation[], now: Date): Promise<boolean[]> {
    const result = await this.pool.query<{ used: string }>({
      text: ROTATE,
      values: [
        ...columnArrays(
          ROTATION,
          rotations.map((rotation) => ({
            used: rotation.usedDigest,
            grantExpires: rotation.grantExpiresAt,
            grantExtended: rotation.grantExtendedTo,
          })),
        ),
        ...columnArrays(
          REFRESH_TOKEN,
          rotations.map((rotation) => successorRow(rotation, now)),
        ),
        ...columnArrays(
          ACCESS_TOKEN,
          rotations.map((rotation) => rotation.access),
        ),
        stored(now),
      ],
    });
    const won = new Set(result.rows.map((row) => row.used));
    return rotations.map((rotation) => won.has(rotation.usedDigest));
  }

  async recordAssertions(used: UsedAssertion[]): Promise<Set<string>> {
    const result = await this.pool.query<{ key: string }>({
      name: 'tessera_record_assertions',
      text: RECORD_ASSERTIONS,
      values: columnArrays(USED_ASSERTION, used),
    });
    return new Set(result.rows.map((row) => row.key));
  }

  async findRefreshToken(digest: string) {
    const result = await this.pool.query<Record<string, unknown>>({ name: 'tessera_find_refresh', text: FIND_REFRESH, values: [digest] });
    const row = result.rows[0];
    return row ? refreshRecordFrom(row, (value) => value as Date) : null;
  }
}

async function open(databaseUrl: string, onError: (error: unknown) => void): Promise<Database> {
  const { warning } = pgTls(new URL(databaseUrl));
  const pool = new pg.Pool(pgPoolConfig(databaseUrl));
  // An idle connection the server terminated (a restart, a failover) is dropped from the pool and
  // replaced on next use; unheard, its error would end the process.
  // The pool passes the client as a second argument: not ours to log.
  pool.on('error', (error) => onError(error));
  const db = new PrismaClient({ adapter: new PrismaPg(pool) }) as unknown as Db;
  await db.$connect();
  const close = async () => {
    await db.$disconnect();
    await pool.end();
  };
  return { db, hotPath: new PostgresHotPath(pool), close, warnings: warning ? [warning] : [] };
}

export const postgresql: DialectModule = {
  name: 'postgresql',
  open,
  migrationAdapter: (databaseUrl) => new PrismaPg(pgPoolConfig(databaseUrl)),
  // PostgreSQL delivers a notification at commit, to every instance that LISTENs.
  announce: (db, changes) => changes.map((c) => db.$executeRaw`SELECT pg_notify(${CHANNEL}, ${`${c.kind}:${c.subject}`})`),
  // Held until commit: a sequence hands out ids at insert, so without it a later id could commit first.
  orderRevocations: (db) => [db.$executeRaw`SELECT pg_advisory_xact_lock(${REVOCATION_LOCK})`],

  /**
   * A lost LISTEN connection means notifications may have been missed: it is re-established with
   * backoff, and the caches are dropped whole when it is. An outage is reported once, not once per
   * retry, and a connection that worked starts the backoff afresh.
   */
  async follow(_db, listener, { databaseUrl, onError }) {
    let stopped = false;
    let current: pg.Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    /** Attempts since the feed last worked, and whether their error was reported. */
    let failures = 0;
    let reported = false;
    const listen = async (first: boolean): Promise<void> => {
      const client = new pg.Client(pgPoolConfig(databaseUrl));
      const reconnect = (error?: unknown) => {
        if (stopped || current !== client) return;
        if (error && !reported) {
          reported = true;
          onError(error);
        }
        current = undefined;
        client.end().catch(() => {});
        const delay = Math.min(5000, 100 * 2 ** failures++);
        timer = setTimeout(() => void listen(false).catch(onError), delay).unref();
      };
      current = client;
      client.on('error', reconnect);
      client.on('end', () => reconnect());
      client.on('notification', (message) => {
        const payload = message.payload ?? '';
        const at = payload.indexOf(':');
        const change = decodeChange(payload.slice(0, at), payload.slice(at + 1));
        if (change) listener.onChange(change);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANNEL}`);
      } catch (error) {
        if (first) {
          // The caller fails to start: no retry may follow (the 'end' event may have scheduled one).
          stopped = true;
          clearTimeout(timer);
          throw error;
        }
        reconnect(error);
        return;
      }
      failures = 0;
      reported = false;
      if (!first) listener.onReset();
    };
    await listen(true);
    return async () => {
      stopped = true;
      clearTimeout(timer);
      const client = current;
      current = undefined;
      await client?.end().catch(() => {});
    };
  },
};
