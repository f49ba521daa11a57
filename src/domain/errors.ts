// Errors of the domain. The OAuth error codes belong to the protocol layer (src/oauth/errors.ts);
// what the domain refuses is said here in its own words.

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
