// GET /authorize shows the sign-in page for an authorization request (code flow with PKCE);
// POST /authorize signs the user in and redirects to the client with a code (RFC 6749 §4.1).
// The form is protected against CSRF by a double-submit cookie.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Tessera } from '../tessera.js';
import { ThrottledError } from '../domain/throttle.js';
import { issueAuthorizationCode } from '../oauth/authorization-code.js';
import {
  AUTHORIZATION_PARAMS,
  AuthorizationError,
  checkAuthorizationRequest,
  redirectWith,
  type AuthorizationRequest,
} from '../oauth/authorization-request.js';
import { cookiesMustBeSecure, sameSecret } from './browser-session.js';
import { errorPage, loginPage, STYLE_HASH } from './login-page.js';
import { MAX_PARAM_LENGTH } from './params.js';

const LOGIN_CSRF_COOKIE = 'tessera_login_csrf';

/** Single string values only (RFC 6749 §3.1: no parameter twice). */
function singleParams(source: unknown): Record<string, string> | string {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries((source ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(value)) return `The parameter ${name} was sent more than once.`;
    if (typeof value !== 'string' || value.length > MAX_PARAM_LENGTH) return `The parameter ${name} is not valid.`;
    if (value !== '') params[name] = value;
  }
  return params;
}

function authorizationParams(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(AUTHORIZATION_PARAMS.filter((name) => params[name] !== undefined).map((name) => [name, params[name]!]));
}

function html(reply: FastifyReply, status: number, body: string, formTarget?: string) {
  // The page may post only to us; Chrome applies form-action to the redirect after the post too,
  // so the client's redirect origin is allowed there as well.
  const formAction = formTarget ? `'self' ${new URL(formTarget).origin}` : `'self'`;
  return reply
    .code(status)
    .header(
      'Content-Security-Policy',
      `default-src 'none'; style-src ${STYLE_HASH}; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    )
    .header('Cache-Control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(body);
}

export function authorizeRoutes(app: FastifyInstance, tessera: Tessera): void {
  const secure = cookiesMustBeSecure(tessera.config.issuer);

  const fail = (reply: FastifyReply, error: unknown) => {
    if (!(error instanceof AuthorizationError)) throw error;
    if (!error.redirect) return html(reply, 400, errorPage(error.description));
    const { uri, state } = error.redirect;
    return reply.redirect(
      redirectWith(uri, { error: error.error, error_description: error.description, state, iss: tessera.config.issuer }),
      302,
    );
  };

  const showForm = (
    reply: FastifyReply,
    request: AuthorizationRequest,
    params: Record<string, string>,
    status: number,
    extra: { error?: string; username?: string } = {},
  ) => {
    const csrf = randomBytes(32).toString('base64url');
    reply.setCookie(LOGIN_CSRF_COOKIE, csrf, { httpOnly: true, secure, sameSite: 'strict', path: '/authorize' });
    return html(
      reply,
      status,
      loginPage({ clientName: request.client.name, scope: request.scope, hidden: authorizationParams(params), csrf, ...extra }),
      request.redirectUri,
    );
  };

  app.get('/authorize', async (req: FastifyRequest, reply) => {
    const params = singleParams(req.query);
    if (typeof params === 'string') return html(reply, 400, errorPage(params));
    try {
      return showForm(reply, await checkAuthorizationRequest(tessera, params), params, 200);
    } catch (error) {
      return fail(reply, error);
    }
  });

  app.post('/authorize', async (req: FastifyRequest, reply) => {
    const params = singleParams(req.body);
    if (typeof params === 'string') return html(reply, 400, errorPage(params));
    let request: AuthorizationRequest;
    try {
      request = await checkAuthorizationRequest(tessera, params);
    } catch (error) {
      return fail(reply, error);
    }
    const cookie = req.cookies[LOGIN_CSRF_COOKIE];
    if (!cookie || !params.csrf || !sameSecret(cookie, params.csrf)) {
      return showForm(reply, request, params, 403, {
        error: 'Your sign-in form expired or was not sent from this page. Please try again.',
      });
    }
    const username = params.username ?? '';
    let user;
    try {
      user = await tessera.users.signIn(username, params.password ?? '', req.ip);
    } catch (error) {
      if (!(error instanceof ThrottledError)) throw error;
      reply.header('Retry-After', String(error.retryAfter));
      return showForm(reply, request, params, 429, { username, error: 'Too many failed attempts. Please wait a while and try again.' });
    }
    if (!user) return showForm(reply, request, params, 401, { username, error: 'The username or password is not right.' });
    reply.clearCookie(LOGIN_CSRF_COOKIE, { path: '/authorize' });
    const code = await issueAuthorizationCode(tessera, request, user);
    return reply.redirect(redirectWith(request.redirectUri, { code, state: request.state, iss: tessera.config.issuer }), 302);
  });
}
