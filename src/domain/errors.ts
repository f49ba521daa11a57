// Errors of the domain. The OAuth error codes belong to the protocol layer (src/oauth/errors.ts);
// what the domain refuses is said here in its own words.
import { AlreadyExistsError, NotFoundError } from '../store/errors.js';
import { BadCursorError } from '../store/paging.js';

/** A request the admin command cannot carry out (bad argument, unknown name): shown as one line. */
export class AdminError extends Error {}

/**
 * The server cannot take this request now but will soon (its password checks are saturated, its
 * database is unreachable): 503 temporarily_unavailable, with Retry-After in whole seconds.
 */
export class UnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfter: number,
  ) {
    super(message);
  }
}

/** What the request names does not exist (no such client, user or key): 404 in the admin API. */
export class NoSuchError extends AdminError {}

/** A list's page, with a cursor this server did not give out refused as a bad request. */
export async function pageOrRefuse<T>(reading: Promise<T>): Promise<T> {
  try {
    return await reading;
  } catch (error) {
    if (error instanceof BadCursorError) throw new AdminError(error.message);
    throw error;
  }
}

/**
 * A write whose row another request removed or took meanwhile (a concurrent delete, the same
 * username twice at once), told in the domain's words: `what` names the row.
 */
export async function written<T>(write: Promise<T>, what: string): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof NotFoundError) throw new NoSuchError(`no ${what}`);
    if (error instanceof AlreadyExistsError) throw new AdminError(`${what} already exists`);
    throw error;
  }
}
