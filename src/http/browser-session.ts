// Refresh tokens of browser clients travel in an HttpOnly cookie, never in a body that script
// could read; a readable CSRF cookie must be echoed in X-CSRF-Token to use it (double submit).
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CookieSerializeOptions } from '@fastify/cookie';
import { isLoopbackHost } from '../config.js';
import { InvalidRequestError } from '../oauth/errors.js';
import type { ClientRecord } from '../records.js';
import { sameSecret } from '../tokens/constant-time.js';

export const REFRESH_COOKIE = 'tessera_refresh';
export const CSRF_COOKIE = 'tessera_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** Secure may be dropped only for a plain-http issuer on the loopback (local development). */
export function cookiesMustBeSecure(issuer: string): boolean {
  const url = new URL(issuer);
  return !(url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

export function setBrowserSession(reply: FastifyReply, client: ClientRecord, refreshToken: string, secure: boolean): void {
  const common: CookieSerializeOptions = { secure, sameSite: 'strict', maxAge: client.refreshTtl };
  reply.setCookie(REFRESH_COOKIE, refreshToken, { ...common, httpOnly: true, path: '/token' });
  reply.setCookie(CSRF_COOKIE, randomBytes(32).toString('base64url'), { ...common, httpOnly: false, path: '/' });
}

/**
 * For a browser client's refresh: the refresh token from its cookie, after the CSRF check.
 * A refresh token in the body is refused: a browser client never handles one.
 */
export function browserRefreshToken(request: FastifyRequest, params: { refresh_token?: string }): string {
  if (params.refresh_token !== undefined)
    throw new InvalidRequestError('Invalid request: a browser client sends its refresh token only as the tessera_refresh cookie');
  const refresh = request.cookies[REFRESH_COOKIE];
  if (!refresh) throw new InvalidRequestError('Missing cookie: `tessera_refresh`');
  const csrfCookie = request.cookies[CSRF_COOKIE];
  const csrfHeader = request.headers[CSRF_HEADER];
  if (!csrfCookie || typeof csrfHeader !== 'string' || !sameSecret(csrfCookie, csrfHeader)) {
    throw new InvalidRequestError('Invalid request: the X-CSRF-Token header must match the tessera_csrf cookie');
  }
  return refresh;
}
