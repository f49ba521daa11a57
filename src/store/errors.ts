// The store's own errors, so that no caller needs to know Prisma's error codes.

/** A row with that key exists already (a unique constraint). */
export class AlreadyExistsError extends Error {}

/** The row to change or delete is not there (any more). */
export class NotFoundError extends Error {}

/** Runs a write, turning Prisma's "unique constraint" and "record not found" into the store's errors. */
export async function translated<T>(write: PromiseLike<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'P2002') throw new AlreadyExistsError('that already exists', { cause: error });
    if (code === 'P2025') throw new NotFoundError('not found', { cause: error });
    throw error;
  }
}

/** Prisma's code for a transaction that lost to a deadlock or a serialization failure (40P01, 40001). */
const WRITE_CONFLICT = 'P2034';

/** Runs a transaction, and again (at most `attempts` times in all) while it loses to a concurrent one. */
export async function retryingConflicts<T>(transaction: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (attempt >= attempts || (error as { code?: unknown }).code !== WRITE_CONFLICT) throw error;
    }
  }
}

/**
 * An error that means the database cannot be reached now, as one log line says it: the most
 * specific code there is (a SQLSTATE, a socket's or SQLite's code, else the kind of failure) and
 * the driver's message.
 */
export interface Outage {
  code: string;
  message: string;
}

// PostgreSQL: class 08 (connection exception); 57P01 and 57P02 (the server was shut down by an
// administrator or by a crash) and 57P03 (it is starting up, shutting down or in recovery); 53300
// (no connection slot left).
const PG_UNAVAILABLE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;
/** Node's socket errors on the way to the server. */
const SOCKET_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
// SQLite: another process held the lock past the busy timeout, or the file cannot be opened, read
// or written (an I/O error, a full disk); extended codes (SQLITE_IOERR_WRITE, …) included.
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|IOERR|CANTOPEN|FULL)(_|$)/;
// The driver adapters' kinds for the same when they kept no driver code (@prisma/adapter-pg maps
// ECONNREFUSED and ENOTFOUND to DatabaseNotReachable, ECONNRESET to ConnectionClosed, ETIMEDOUT and
// SQLITE_BUSY to SocketTimeout, 53300 to TooManyConnections).
const ADAPTER_UNAVAILABLE = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
// node-postgres and pg-pool (8.x) give a lost or unobtainable connection no code, only one of these
// messages, and Prisma passes such errors through as they are.
const PG_MESSAGES = new Map([
  ['Connection terminated unexpectedly', 'CONNECTION_LOST'],
  ['Client has encountered a connection error and is not queryable', 'CONNECTION_LOST'],
  ['Connection terminated due to connection timeout', 'CONNECT_TIMEOUT'],
  ['timeout exceeded when trying to connect', 'CONNECT_TIMEOUT'],
  ['timeout expired', 'CONNECT_TIMEOUT'],
]);
/** Prisma's P2028 with this message: no connection came for a transaction within its maxWait. */
const TRANSACTION_NOT_STARTED = 'Unable to start a transaction in the given time.';

/** What a driver adapter says of a failure: on a DriverAdapterError's cause, and in Prisma's errors' meta. */
interface AdapterFields {
  kind?: unknown;
  originalCode?: unknown;
  originalMessage?: unknown;
}

interface ErrorFields extends AdapterFields {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: AdapterFields } };
}

const isOutageCode = (code: string) => PG_UNAVAILABLE.test(code) || SOCKET_UNAVAILABLE.has(code) || SQLITE_UNAVAILABLE.test(code);

/** Prisma's messages open with where the call was made (and its arguments); the cause is the last line. */
function lastLine(message: unknown): string {
  if (typeof message !== 'string') return '';
  return (
    message
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .at(-1) ?? ''
  );
}

function outageOf(error: ErrorFields): Outage | undefined {
  const message = lastLine(error.message);
  const adapter = error.meta?.driverAdapterError?.cause ?? error;
  if (typeof adapter.originalCode === 'string' && isOutageCode(adapter.originalCode)) {
    return { code: adapter.originalCode, message: lastLine(adapter.originalMessage) || message };
  }
  if (typeof adapter.kind === 'string' && ADAPTER_UNAVAILABLE.has(adapter.kind)) return { code: adapter.kind, message };
  if (typeof error.code === 'string' && isOutageCode(error.code)) return { code: error.code, message };
  if (error.code === 'P2028' && message.endsWith(TRANSACTION_NOT_STARTED)) return { code: 'P2028', message };
  const pgCode = PG_MESSAGES.get(message);
  return pgCode ? { code: pgCode, message } : undefined;
}

/**
 * Whether `error`, or an error it was caused by, means the database cannot be reached now (down,
 * restarting, out of connections, locked by another process past the busy timeout, out of disk),
 * so that a retry in a while may succeed; undefined for anything else.
 */
export function databaseOutage(error: unknown): Outage | undefined {
  let current = error;
  // A few levels: pg-pool wraps a connect timeout, Prisma a driver error, callers their own.
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const found = outageOf(current as ErrorFields);
    if (found) return found;
    current = (current as ErrorFields).cause;
  }
  return undefined;
}
