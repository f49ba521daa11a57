// GET /authorize shows the sign-in page for an authorization request (code flow with PKCE);
// POST /authorize signs the user in and redirects to the client with a code (RFC 6749 §4.1).
// The form is protected against CSRF by a double-submit cookie.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clients } from '../domain/clients.js';
import { ThrottledError } from '../domain/throttle.js';
import type { Users } from '../domain/users.js';
import { OAuthError } from '../oauth/errors.js';
import {
  AUTHORIZATION_PARAMETERS,
  AuthorizationError,
  checkAuthorizationRequest,
  issueCode,
  redirectWith,
  type AuthorizationParameters,
  type AuthorizationRequest,
} from '../oauth/authorization-request.js';
import { sameSecret } from '../tokens/constant-time.js';
import type { TokenLifecycle } from '../tokens/lifecycle.js';
import { errorPage, loginPage, STYLE_HASH } from './login-page.js';
import { allParams, pick } from './params.js';

const LOGIN_CSRF_COOKIE = 'tessera_login_csrf';
/** The sign-in form's own fields, posted beside the authorization request. */
const FORM_PARAMETERS = [...AUTHORIZATION_PARAMETERS, 'csrf', 'username', 'password'] as const;

export interface AuthorizeServices {
  clients: Pick<Clients, 'find'>;
  users: Pick<Users, 'signIn'>;
  tokens: TokenLifecycle;
  issuer: string;
  secureCookies: boolean;
}

/** The declared parameters, or the page that says what is wrong with them. */
function readParams<P extends string>(reply: FastifyReply, source: unknown, names: readonly P[]) {
  try {
    return pick(allParams(source), names);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    void html(reply, 400, errorPage(error.message));
    return null;
  }
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

export function authorizeRoutes(app: FastifyInstance, { clients, users, tokens, issuer, secureCookies: secure }: AuthorizeServices): void {
  const fail = (reply: FastifyReply, error: unknown) => {
    if (!(error instanceof AuthorizationError)) throw error;
    if (!error.redirect) return html(reply, 400, errorPage(error.description));
    const { uri, state } = error.redirect;
    return reply.redirect(redirectWith(uri, { error: error.error, error_description: error.description, state, iss: issuer }), 302);
  };

  const showForm = (
    reply: FastifyReply,
    request: AuthorizationRequest,
    params: AuthorizationParameters,
    status: number,
    extra: { error?: string; username?: string } = {},
  ) => {
    const csrf = randomBytes(32).toString('base64url');
    reply.setCookie(LOGIN_CSRF_COOKIE, csrf, { httpOnly: true, secure, sameSite: 'strict', path: '/authorize' });
    return html(
      reply,
      status,
      loginPage({ clientName: request.client.name, scope: request.scope, hidden: pick(params, AUTHORIZATION_PARAMETERS), csrf, ...extra }),
      request.redirectUri,
    );
  };

  app.get('/authorize', async (req: FastifyRequest, reply) => {
    const params = readParams(reply, req.query, AUTHORIZATION_PARAMETERS);
    if (!params) return reply;
    try {
      return showForm(reply, await checkAuthorizationRequest(clients, params), params, 200);
    } catch (error) {
      return fail(reply, error);
    }
  });

  app.post('/authorize', async (req: FastifyRequest, reply) => {
    const params = readParams(reply, req.body, FORM_PARAMETERS);
    if (!params) return reply;
    let request: AuthorizationRequest;
    try {
      request = await checkAuthorizationRequest(clients, params);
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
      user = await users.signIn(username, params.password ?? '', req.ip);
    } catch (error) {
      if (!(error instanceof ThrottledError)) throw error;
      reply.header('Retry-After', String(error.retryAfter));
      return showForm(reply, request, params, 429, { username, error: 'Too many failed attempts. Please wait a while and try again.' });
    }
    if (!user) return showForm(reply, request, params, 401, { username, error: 'The username or password is not right.' });
    reply.clearCookie(LOGIN_CSRF_COOKIE, { path: '/authorize' });
    const code = await issueCode(tokens, request, user);
    return reply.redirect(redirectWith(request.redirectUri, { code, state: request.state, iss: issuer }), 302);
  });
}
