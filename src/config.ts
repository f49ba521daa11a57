// Every setting Tessera reads from its environment, read and validated once.
import { isIP } from 'node:net';
import { resolve } from 'node:path';

export type Dialect = 'sqlite' | 'postgresql';

export interface Config {
  port: number;
  host: string;
  issuer: string;
  databaseUrl: string;
  dialect: Dialect;
  /** Where the embedded default keeps its files (SQLite database, generated secret). */
  dataDir: string;
  /** TESSERA_SECRET as given; when absent, src/secret.ts generates one into dataDir. */
  secret: string | undefined;
  /** LOG_LEVEL; when unset, the server logs at info and the admin command warnings only. */
  logLevel: string | undefined;
  /** One log line per request; off by default, since /metrics counts requests. */
  logRequests: boolean;
  /** TESSERA_MIGRATE: `serve` creates or upgrades the schema (default); when false it refuses an out-of-date one. */
  migrate: boolean;
  /** Background removal of expired and revoked rows; 0 turns it off. */
  pruneIntervalMs: number;
  /** How often an SQLite instance reads the change feed written by other processes. */
  changePollMs: number;
  /**
   * Whose X-Forwarded-For is believed: none (false), the nearest N hops, or the proxies at these
   * addresses or CIDR ranges (Fastify's trustProxy takes each form as it is).
   */
  trustProxy: false | number | string[];
  /** The admin listener (/metrics): its own port and host, loopback by default. */
  adminPort: number;
  adminHost: string;
  /** A request not received in full within this time is dropped (408). */
  requestTimeoutMs: number;
  /** Lifetime of authorization codes (RFC 6749 §4.1.2 recommends at most 10 minutes). */
  codeTtlSeconds: number;
  /** The revocation stream: a comment this often keeps proxies from closing idle streams. */
  streamHeartbeatMs: number;
  /** The revocation stream's listeners per instance; beyond, 503. */
  streamMaxListeners: number;
  /** How long the audit log keeps an entry, in days. */
  auditRetentionDays: number;
  /** A browser session ends when unused this long (TESSERA_SESSION_IDLE, seconds)… */
  sessionIdleSeconds: number;
  /** …and this long after its sign-in in any case (TESSERA_SESSION_MAX, seconds). */
  sessionMaxSeconds: number;
  /** The product name the built-in pages show (TESSERA_BRAND_NAME). */
  brandName: string;
  /** A directory whose templates override the built-in pages (TESSERA_TEMPLATES), resolved; null: none. */
  templatesDir: string | null;
}

export class ConfigError extends Error {}

/** TESSERA_SECRET, or the generated secret file, must be at least this long. */
export const MIN_SECRET_LENGTH = 32;

/** Hosts that never leave this machine: plain http and insecure cookies are tolerated only there. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

const DEFAULT_DATABASE_URL = 'file:./data/tessera.db';

export function dialectOf(databaseUrl: string): Dialect {
  if (databaseUrl.startsWith('file:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return 'postgresql';
  throw new ConfigError('DATABASE_URL must start with file: (SQLite) or postgresql:// (PostgreSQL)');
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
  }
  return value;
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(`${name} must be true or false (or 1/0, yes/no, on/off), not "${raw}"`);
}

/** Names proxy-addr (Fastify's trustProxy) accepts for well-known private ranges. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

function isAddressOrRange(entry: string): boolean {
  if (PROXY_RANGE_NAMES.includes(entry)) return true;
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const max = family === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}

/**
 * TESSERA_TRUST_PROXY: a hop count, or the proxies' addresses and CIDR ranges. Trusting every hop
 * (`true`, `*`) is refused: the leftmost X-Forwarded-For entry is whatever the client wrote, so
 * per-address throttling would be void and anyone could have any address blocked.
 */
function trustedProxies(raw: string | undefined): false | number | string[] {
  if (raw === undefined || raw.trim() === '') return false;
  const value = raw.trim();
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 100) throw new ConfigError(`TESSERA_TRUST_PROXY hop count must be at most 100, not ${value}`);
    return hops === 0 ? false : hops;
  }
  if (['true', '*', 'yes', 'on', 'all'].includes(value.toLowerCase())) {
    throw new ConfigError(
      'TESSERA_TRUST_PROXY must list the proxies (addresses or CIDR ranges, comma-separated) or give a hop count: ' +
        'trusting every hop lets any client choose its own address',
    );
  }
  if (['false', 'no', 'off'].includes(value.toLowerCase())) return false;
  const entries = value.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (!isAddressOrRange(entry)) {
      throw new ConfigError(`TESSERA_TRUST_PROXY: "${entry}" is not an IP address, a CIDR range or one of ${PROXY_RANGE_NAMES.join(', ')}`);
    }
  }
  return entries;
}

function sessionLifetimes(env: NodeJS.ProcessEnv): Pick<Config, 'sessionIdleSeconds' | 'sessionMaxSeconds'> {
  const sessionMaxSeconds = integer(env, 'TESSERA_SESSION_MAX', 36_000, 60, 31_536_000);
  const sessionIdleSeconds = integer(env, 'TESSERA_SESSION_IDLE', 1_800, 60, 31_536_000);
  if (sessionIdleSeconds > sessionMaxSeconds) {
    throw new ConfigError(`TESSERA_SESSION_IDLE (${sessionIdleSeconds}) must not exceed TESSERA_SESSION_MAX (${sessionMaxSeconds})`);
  }
  return { sessionIdleSeconds, sessionMaxSeconds };
}

/** A name for page headings: plain text of reasonable length (the pages escape it anyway). */
function brandName(raw: string | undefined): string {
  const name = raw?.trim() || 'Tessera';
  if (name.length > 64 || /[\x00-\x1f\x7f]/.test(name)) {
    throw new ConfigError('TESSERA_BRAND_NAME must be at most 64 characters, without control characters');
  }
  return name;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  const issuer = (env.TESSERA_ISSUER || `http://localhost:${port}`).replace(/\/+$/, '');
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    throw new ConfigError(`TESSERA_ISSUER is not a URL: "${issuer}"`);
  }
  if (issuerUrl.protocol !== 'https:' && issuerUrl.protocol !== 'http:') {
    throw new ConfigError('TESSERA_ISSUER must be an http(s) URL');
  }
  // RFC 8414 §2: the issuer is https; passwords and tokens must not cross a network in clear.
  if (issuerUrl.protocol === 'http:' && !isLoopbackHost(issuerUrl.hostname)) {
    throw new ConfigError(`TESSERA_ISSUER must be an https URL (plain http only on localhost, 127.0.0.1 or [::1]), not "${issuer}"`);
  }
  if (issuerUrl.search || issuerUrl.hash) {
    throw new ConfigError('TESSERA_ISSUER must not have a query or fragment (RFC 8414 §2)');
  }
  const databaseUrl = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const dialect = dialectOf(databaseUrl);
  const secret = env.TESSERA_SECRET || undefined;
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`TESSERA_SECRET must be at least ${MIN_SECRET_LENGTH} characters (use \`openssl rand -base64 32\`)`);
  }
  return {
    port,
    host,
    issuer,
    databaseUrl,
    dialect,
    dataDir: resolve(env.TESSERA_DATA_DIR || 'data'),
    secret,
    logLevel: env.LOG_LEVEL || undefined,
    logRequests: boolean(env, 'TESSERA_LOG_REQUESTS', false),
    migrate: boolean(env, 'TESSERA_MIGRATE', true),
    pruneIntervalMs: integer(env, 'TESSERA_PRUNE_INTERVAL_MS', 60_000, 0, 86_400_000),
    changePollMs: integer(env, 'TESSERA_CHANGE_POLL_MS', 200, 20, 1000),
    trustProxy: trustedProxies(env.TESSERA_TRUST_PROXY),
    adminPort: integer(env, 'TESSERA_ADMIN_PORT', 3001, 0, 65535),
    adminHost: env.TESSERA_ADMIN_HOST || '127.0.0.1',
    requestTimeoutMs: integer(env, 'TESSERA_REQUEST_TIMEOUT', 10, 1, 300) * 1000,
    codeTtlSeconds: integer(env, 'TESSERA_CODE_TTL', 60, 1, 600),
    // At most 30 s: @tessera/verify takes a minute's silence for a dead connection.
    streamHeartbeatMs: integer(env, 'TESSERA_STREAM_HEARTBEAT', 15, 1, 30) * 1000,
    streamMaxListeners: integer(env, 'TESSERA_STREAM_MAX_LISTENERS', 1000, 1, 100_000),
    auditRetentionDays: integer(env, 'TESSERA_AUDIT_RETENTION_DAYS', 365, 1, 36_500),
    ...sessionLifetimes(env),
    brandName: brandName(env.TESSERA_BRAND_NAME),
    templatesDir: env.TESSERA_TEMPLATES ? resolve(env.TESSERA_TEMPLATES) : null,
  };
}
