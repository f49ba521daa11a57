// The authorization request of the code flow (RFC 6749 §4.1.1, PKCE RFC 7636, OpenID Connect
// Core 1.0 §3.1.2.1), checked in the order that decides where an error may go: until the client
// and its redirect URI are known good, an error is shown to the user and never redirected
// (§4.1.2.1); after that, it goes back to the client's redirect URI. Then what the request needs
// of the browser's session: a new sign-in (prompt=login, max_age), a consent, or nothing.
import type { Clients } from '../domain/clients.js';
import { formatScope, isScopeToken, parseScope } from '../domain/scopes.js';
import type { ClientRecord, SessionRecord } from '../records.js';
import type { IdTokens } from '../tokens/id-token.js';
import type { TokenLifecycle } from '../tokens/lifecycle.js';

/** OpenID Connect Core §3.1.2.1 prompt values (`select_account` is served as `login`: one account per sign-in). */
export type Prompt = 'none' | 'login' | 'consent' | 'select_account';
const PROMPTS = new Set<string>(['none', 'login', 'consent', 'select_account']);

export interface AuthorizationRequest {
  client: ClientRecord;
  redirectUri: string;
  state: string | undefined;
  scope: string;
  codeChallenge: string;
  /** Echoed in the ID token (Core §3.1.2.1), through the code. */
  nonce: string | undefined;
  prompt: ReadonlySet<Prompt>;
  /** Seconds a sign-in may be old; null: any age. */
  maxAge: number | null;
  /** Prefills the username on the sign-in page. */
  loginHint: string | undefined;
  /** The user an id_token_hint names (Core §3.1.2.1): a session of anyone else does not answer. */
  hintedUserId: string | undefined;
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
/** A nonce is the client's to choose; past this it is no nonce but a payload riding into every ID token. */
const MAX_NONCE_LENGTH = 512;

/**
 * The authorization request's parameters: carried through the sign-in and consent forms unchanged.
 * `request` and `request_uri` are read only to be refused (Core §6). Other OpenID Connect
 * parameters (display, ui_locales, claims_locales, acr_values) are accepted and ignored, as unknown
 * parameters are (RFC 6749 §3.1).
 */
export const AUTHORIZATION_PARAMETERS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'prompt',
  'max_age',
  'login_hint',
  'id_token_hint',
  'request',
  'request_uri',
] as const;

export type AuthorizationParameters = Partial<Record<(typeof AUTHORIZATION_PARAMETERS)[number], string>>;

export async function checkAuthorizationRequest(
  { clients, idTokens }: { clients: Pick<Clients, 'find'>; idTokens: Pick<IdTokens, 'verifyHint'> },
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
  if (params.request !== undefined) throw fail('request_not_supported', 'Request objects (the request parameter) are not supported');
  if (params.request_uri !== undefined) throw fail('request_uri_not_supported', 'The request_uri parameter is not supported');
  if (params.code_challenge === undefined)
    throw fail('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256');
  if (params.code_challenge_method !== 'S256') throw fail('invalid_request', 'Only code_challenge_method=S256 is supported');
  if (!S256_CHALLENGE.test(params.code_challenge)) throw fail('invalid_request', 'Invalid parameter: code_challenge');
  const requested = params.scope === undefined ? client.scopes : parseScope(params.scope);
  if (!requested.every((s) => isScopeToken(s) && client.scopes.includes(s)))
    throw fail('invalid_scope', 'The requested scope is not allowed for this client');
  if (params.nonce !== undefined && params.nonce.length > MAX_NONCE_LENGTH)
    throw fail('invalid_request', `Invalid parameter: nonce (at most ${MAX_NONCE_LENGTH} characters)`);
  const prompt = parsePrompt(params.prompt);
  if (!prompt) throw fail('invalid_request', 'Invalid parameter: prompt (none alone, or any of login, consent, select_account)');
  const maxAge = parseMaxAge(params.max_age);
  if (maxAge === undefined) throw fail('invalid_request', 'Invalid parameter: max_age (a non-negative whole number of seconds)');
  // An expired ID token still names its user (Core §3.1.2.1); a forged or foreign one names nobody.
  const hint = params.id_token_hint === undefined ? null : await idTokens.verifyHint(params.id_token_hint);
  if (params.id_token_hint !== undefined && !hint)
    throw fail('invalid_request', 'Invalid parameter: id_token_hint (not an ID token this server issued)');
  return {
    client,
    redirectUri,
    state,
    scope: formatScope(requested),
    codeChallenge: params.code_challenge,
    nonce: params.nonce,
    prompt,
    maxAge,
    loginHint: params.login_hint,
    hintedUserId: hint?.sub,
  };
}

/** The set of prompt values, or null when one is unknown or `none` comes with another (Core §3.1.2.1). */
function parsePrompt(value: string | undefined): Set<Prompt> | null {
  const values = new Set(value === undefined ? [] : value.split(' ').filter((v) => v !== ''));
  if (![...values].every((v) => PROMPTS.has(v))) return null;
  if (values.has('none') && values.size > 1) return null;
  return values as Set<Prompt>;
}

/**
 * max_age in seconds: null when absent, or so large that no sign-in can be that old (it is a
 * limit that never applies, not a number to overflow); undefined when it is not a whole number.
 */
function parseMaxAge(value: string | undefined): number | null | undefined {
  if (value === undefined) return null;
  if (!/^[0-9]+$/.test(value)) return undefined;
  const seconds = Number(value);
  return Number.isSafeInteger(seconds) ? seconds : null;
}

/**
 * Whether the request wants the user to sign in again even with a live session: an id_token_hint of
 * another user, prompt=login (or select_account: choosing an account is signing in with it), or a
 * sign-in older than max_age.
 * Ages are compared in whole seconds, as the ID token's auth_time tells them to the client;
 * max_age=0 asks for a sign-in every time (Core §3.1.2.1: like prompt=login).
 */
export function wantsNewSignIn(
  request: AuthorizationRequest,
  session: Pick<SessionRecord, 'userId' | 'authTime'>,
  now: Date = new Date(),
): boolean {
  if (request.hintedUserId !== undefined && request.hintedUserId !== session.userId) return true;
  if (request.prompt.has('login') || request.prompt.has('select_account')) return true;
  if (request.maxAge === null) return false;
  const age = Math.floor(now.getTime() / 1000) - Math.floor(session.authTime.getTime() / 1000);
  return request.maxAge === 0 || age > request.maxAge;
}

/** The code for a request answered under a browser session: its sign-in is the ID token's auth_time and sid. */
export function issueCode(
  tokens: Pick<TokenLifecycle, 'issueCode'>,
  request: AuthorizationRequest,
  session: SessionRecord,
): Promise<string> {
  return tokens.issueCode({
    clientId: request.client.id,
    userId: session.userId,
    redirectUri: request.redirectUri,
    scope: request.scope,
    codeChallenge: request.codeChallenge,
    codeChallengeMethod: 'S256',
    nonce: request.nonce ?? null,
    authTime: session.authTime,
    sessionId: session.id,
  });
}

/** The redirect URI with response parameters added to its query (RFC 6749 §4.1.2). */
export function redirectWith(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.append(key, value);
  return url.toString();
}
