// The cookies of the pages a person sees (/authorize, /logout): the single sign-on session, and
// the double-submit CSRF cookies of their forms.
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sameSecret } from '../tokens/constant-time.js';

export const SESSION_COOKIE = 'tessera_session';

export interface SessionCookieOptions {
  /** Whether cookies must be Secure (cookiesMustBeSecure in browser-session.ts). */
  secure: boolean;
  /** The session's absolute lifetime (TESSERA_SESSION_MAX): the cookie lives no longer. */
  maxSeconds: number;
}

/**
 * SameSite=Lax: a client's link or redirect to /authorize (a top-level GET from its site) carries
 * the session, which single sign-on is for; cross-site posts and subrequests do not.
 */
export function setSessionCookie(reply: FastifyReply, value: string, options: SessionCookieOptions): void {
  reply.setCookie(SESSION_COOKIE, value, {
    httpOnly: true,
    secure: options.secure,
    sameSite: 'lax',
    path: '/',
    maxAge: options.maxSeconds,
  });
}

/** The same name, Path and attributes as when set, and Max-Age=0. */
export function clearSessionCookie(reply: FastifyReply, options: Pick<SessionCookieOptions, 'secure'>): void {
  reply.setCookie(SESSION_COOKIE, '', { httpOnly: true, secure: options.secure, sameSite: 'lax', path: '/', maxAge: 0 });
}

export function sessionCookie(request: FastifyRequest): string | undefined {
  return request.cookies[SESSION_COOKIE];
}

/**
 * A form's CSRF protection by double submit: a random value in a Strict, HttpOnly cookie scoped to
 * the form's path, and the same value in a hidden field. Another site can make a browser post the
 * form but can neither read nor set the cookie.
 */
export class FormCsrf {
  constructor(
    private readonly cookie: string,
    private readonly path: string,
  ) {}

  /** Sets a fresh cookie; the value goes into the form's hidden `csrf` field. */
  issue(reply: FastifyReply, secure: boolean): string {
    const value = randomBytes(32).toString('base64url');
    reply.setCookie(this.cookie, value, { httpOnly: true, secure, sameSite: 'strict', path: this.path });
    return value;
  }

  /** Whether the posted field matches the cookie. */
  matches(request: FastifyRequest, field: string | undefined): boolean {
    const cookie = request.cookies[this.cookie];
    return cookie !== undefined && field !== undefined && sameSecret(cookie, field);
  }

  clear(reply: FastifyReply): void {
    reply.clearCookie(this.cookie, { path: this.path });
  }
}
