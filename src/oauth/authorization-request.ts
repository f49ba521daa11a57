// The authorization request of the code flow (RFC 6749 §4.1.1, PKCE RFC 7636), checked in the
// order that decides where an error may go: until the client and its redirect URI are known
// good, an error is shown to the user and never redirected (§4.1.2.1); after that, it goes back
// to the client's redirect URI.
import type { Clients } from '../domain/clients.js';
import { formatScope, isScopeToken, parseScope } from '../domain/scopes.js';
import type { ClientRecord, UserRecord } from '../records.js';
import type { TokenLifecycle } from '../tokens/lifecycle.js';

export interface AuthorizationRequest {
  client: ClientRecord;
  redirectUri: string;
  state: string | undefined;
  scope: string;
  codeChallenge: string;
}

export class AuthorizationError extends Error {
  constructor(
    /** Where the error may be sent; null: show it to the user instead. */
    readonly redirect: { uri: string; state: string | undefined } | null,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

/** RFC 7636 §4.2: S256 of a 43–128 character verifier is 43 base64url characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** The authorization request's parameters: carried through the sign-in form unchanged. */
export const AUTHORIZATION_PARAMETERS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
] as const;

export type AuthorizationParameters = Partial<Record<(typeof AUTHORIZATION_PARAMETERS)[number], string>>;

export async function checkAuthorizationRequest(
  clients: Pick<Clients, 'find'>,
  params: AuthorizationParameters,
): Promise<AuthorizationRequest> {
  const clientId = params.client_id;
  const client = clientId ? await clients.find(clientId) : null;
  if (!client) throw new AuthorizationError(null, 'invalid_request', 'Unknown or missing client_id.');
  const redirectUri = params.redirect_uri;
  if (!redirectUri) throw new AuthorizationError(null, 'invalid_request', 'The request has no redirect_uri.');
  // Exact string comparison with a registered URI (RFC 9700 §2.1): no prefix or pattern matching.
  if (!client.redirectUris.includes(redirectUri))
    throw new AuthorizationError(null, 'invalid_request', 'The redirect_uri is not registered for this client.');

  const state = params.state;
  const fail = (error: string, description: string) => new AuthorizationError({ uri: redirectUri, state }, error, description);
  if (params.response_type === undefined) throw fail('invalid_request', 'Missing parameter: response_type');
  if (params.response_type !== 'code') throw fail('unsupported_response_type', 'Only response_type=code is supported');
  if (!client.grants.includes('authorization_code'))
    throw fail('unauthorized_client', 'This client may not use the authorization code flow');
  if (params.code_challenge === undefined)
    throw fail('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256');
  if (params.code_challenge_method !== 'S256') throw fail('invalid_request', 'Only code_challenge_method=S256 is supported');
  if (!S256_CHALLENGE.test(params.code_challenge)) throw fail('invalid_request', 'Invalid parameter: code_challenge');
  const requested = params.scope === undefined ? client.scopes : parseScope(params.scope);
  if (!requested.every((s) => isScopeToken(s) && client.scopes.includes(s)))
    throw fail('invalid_scope', 'The requested scope is not allowed for this client');
  return { client, redirectUri, state, scope: formatScope(requested), codeChallenge: params.code_challenge };
}

/** The code for a user who signed in on the authorization request's page. */
export function issueCode(tokens: TokenLifecycle, request: AuthorizationRequest, user: UserRecord): Promise<string> {
  return tokens.issueCode({
    clientId: request.client.id,
    userId: user.id,
    redirectUri: request.redirectUri,
    scope: request.scope,
    codeChallenge: request.codeChallenge,
    codeChallengeMethod: 'S256',
  });
}

/** The redirect URI with response parameters added to its query (RFC 6749 §4.1.2). */
export function redirectWith(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.append(key, value);
  return url.toString();
}
