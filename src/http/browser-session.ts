// Refresh tokens of browser clients travel in an HttpOnly cookie, never in a body that script
// could read. A readable CSRF cookie holds an HMAC of the refresh family's id, which script must
// echo in X-CSRF-Token to use the refresh cookie: a value planted by someone else, or taken from
// another family, does not match. Every request that sets or uses these cookies must also come
// from one of the client's origins, so that no other site can plant its own session.
import { createHmac } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CookieSerializeOptions } from '@fastify/cookie';
import { isLoopbackHost } from '../config.js';
import { InvalidRequestError, OAuthError } from '../oauth/errors.js';
import type { ClientRecord, RefreshTokenRecord } from '../records.js';
import { sameSecret } from '../tokens/constant-time.js';
import type { TokenLifecycle } from '../tokens/lifecycle.js';

export const REFRESH_COOKIE = 'tessera_refresh';
export const CSRF_COOKIE = 'tessera_csrf';
export const CSRF_HEADER = 'x-csrf-token';
const REFRESH_PATH = '/token';
const CSRF_PATH = '/';

/** What the endpoints that set or read the cookies are handed. */
export interface BrowserCookies {
  /** HMAC key for the CSRF values, derived from the server secret. */
  csrfKey: Buffer;
  /** Whether cookies must be Secure (see cookiesMustBeSecure). */
  secure: boolean;
}

/** Secure may be dropped only for a plain-http issuer on the loopback (local development). */
export function cookiesMustBeSecure(issuer: string): boolean {
  const url = new URL(issuer);
  return !(url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** A request from a site the client does not run: invalid_request, but 403 as the contract says. */
class ForeignOriginError extends OAuthError {
  constructor(description: string) {
    super('invalid_request', description, 403);
  }
}

/** A client's allowed origins: those of its web redirect URIs, and its registered ones (they govern CORS too). */
export function allowedOrigins(client: ClientRecord): Set<string> {
  // A custom-scheme redirect URI (a native app's) has the opaque origin "null": it allows nothing.
  const web = client.redirectUris.map((uri) => new URL(uri)).filter((url) => url.protocol === 'https:' || url.protocol === 'http:');
  return new Set([...web.map((url) => url.origin), ...client.origins]);
}

/**
 * Refuses a browser request from outside the client's origins (those of its redirect URIs and its
 * registered ones). Without Origin or Sec-Fetch-Site (curl, servers) the request passes: only
 * browsers send them, and a browser sends Origin on every cross-origin POST.
 */
export function checkBrowserOrigin(request: FastifyRequest, client: ClientRecord): void {
  const origin = request.headers.origin;
  if (origin !== undefined) {
    // `null` (sandboxed frames, some redirects) is a present origin like any other, and not listed.
    if (!allowedOrigins(client).has(origin)) throw new ForeignOriginError('Invalid request: this origin is not allowed for the client');
    return;
  }
  if (request.headers['sec-fetch-site'] === 'cross-site')
    throw new ForeignOriginError('Invalid request: a cross-site request must come from an origin allowed for the client');
}

/** The CSRF value of a refresh family: the same for every token the family rotates through. */
export function csrfValue(key: Buffer, grantId: string): string {
  return createHmac('sha256', key).update(grantId).digest('base64url');
}

export function setBrowserSession(
  reply: FastifyReply,
  cookies: BrowserCookies,
  client: ClientRecord,
  issued: { refreshToken: string; grantId: string },
): void {
  // No longer than the refresh token can live (its family's maximum session included).
  const common: CookieSerializeOptions = {
    secure: cookies.secure,
    sameSite: 'strict',
    maxAge: Math.min(client.refreshTtl, client.maxSession),
  };
  reply.setCookie(REFRESH_COOKIE, issued.refreshToken, { ...common, httpOnly: true, path: REFRESH_PATH });
  reply.setCookie(CSRF_COOKIE, csrfValue(cookies.csrfKey, issued.grantId), { ...common, httpOnly: false, path: CSRF_PATH });
}

/** Clears both cookies: the same name, Path and attributes as when set, and Max-Age=0. */
export function clearBrowserSession(reply: FastifyReply, cookies: BrowserCookies): void {
  const common: CookieSerializeOptions = { secure: cookies.secure, sameSite: 'strict', maxAge: 0 };
  reply.setCookie(REFRESH_COOKIE, '', { ...common, httpOnly: true, path: REFRESH_PATH });
  reply.setCookie(CSRF_COOKIE, '', { ...common, httpOnly: false, path: CSRF_PATH });
}

/**
 * The refresh cookie, once X-CSRF-Token is shown to be its family's CSRF value; null when the
 * request has no refresh cookie. The record is null for a token that is not one of ours: it
 * belongs to no family, and whoever uses it learns only that it is invalid.
 */
export async function presentedRefreshCookie(
  request: FastifyRequest,
  csrfKey: Buffer,
  tokens: Pick<TokenLifecycle, 'findRefreshToken'>,
): Promise<{ token: string; record: RefreshTokenRecord | null } | null> {
  const token = request.cookies[REFRESH_COOKIE];
  if (!token) return null;
  const header = request.headers[CSRF_HEADER];
  const mismatch = () =>
    new InvalidRequestError('Invalid request: the X-CSRF-Token header must hold the tessera_csrf cookie of this session');
  if (typeof header !== 'string') throw mismatch();
  const record = await tokens.findRefreshToken(token);
  if (record && !sameSecret(header, csrfValue(csrfKey, record.grantId))) throw mismatch();
  return { token, record };
}

/**
 * For a browser client's refresh: the refresh token from its cookie, after the CSRF check.
 * A refresh token in the body is refused: a browser client never handles one.
 */
export async function browserRefreshToken(
  request: FastifyRequest,
  params: { refresh_token?: string },
  csrfKey: Buffer,
  tokens: Pick<TokenLifecycle, 'findRefreshToken'>,
): Promise<string> {
  if (params.refresh_token !== undefined)
    throw new InvalidRequestError('Invalid request: a browser client sends its refresh token only as the tessera_refresh cookie');
  const presented = await presentedRefreshCookie(request, csrfKey, tokens);
  if (!presented) throw new InvalidRequestError('Missing cookie: `tessera_refresh`');
  return presented.token;
}
