// What the framework integrations share: reading the bearer token of a request, verifying it, and
// the 401/403 answer for a token that is refused.
import type { Auth } from './auth.js';
import { TokenError } from './errors.js';
import type { Verifier } from './verifier.js';

/**
 * The credentials of an `Authorization: Bearer …` header (RFC 6750 §2.1); undefined when the
 * request carries none. A malformed value is returned as it is, to fail verification as
 * invalid_token.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || !/^Bearer(?:\s|$)/i.test(authorization)) return undefined;
  return authorization.slice('Bearer'.length).trim();
}

export type Outcome = { auth: Auth; refusal?: never } | { auth?: never; refusal: TokenError };

/** The request's verified token, or the TokenError to answer with; other errors are thrown. */
export async function authenticate(verifier: Verifier, authorization: string | undefined, scopes?: readonly string[]): Promise<Outcome> {
  try {
    return { auth: await verifier.verify(bearerToken(authorization), { scopes }) };
  } catch (error) {
    if (error instanceof TokenError) return { refusal: error };
    throw error;
  }
}
