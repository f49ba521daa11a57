// GET /authorize shows the sign-in page for an authorization request (code flow with PKCE);
// POST /authorize signs the user in and redirects to the client with a code (RFC 6749 §4.1).
// The form is protected against CSRF by a double-submit cookie.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clients } from '../domain/clients.js';
import { ThrottledError } from '../domain/throttle.js';
import type { Users } from '../domain/users.js';
import type { Metrics } from '../metrics.js';
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
import { noteRequestParties } from './request-log.js';
import { commonErrors, documentationOnly, FORM_OR_JSON, oauthError, parameters } from './route-docs.js';

const LOGIN_CSRF_COOKIE = 'tessera_login_csrf';
/** The sign-in form's own fields, posted beside the authorization request. */
const FORM_PARAMETERS = [...AUTHORIZATION_PARAMETERS, 'csrf', 'username', 'password'] as const;

// ── The OpenAPI description (src/http/route-docs.ts): documentation only, never a check ──

const page = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
const authorizationParameters = {
  own: { redirect_uri: { description: "one of the client's registered redirect URIs, compared exactly" } },
  required: ['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'code_challenge_method'],
};
const toClient = {
  description:
    'To the redirect URI (RFC 6749 §4.1.2, RFC 9207): `code`, `state` and `iss` after a sign-in; `error` (invalid_request, unsupported_response_type, unauthorized_client, invalid_scope), `error_description`, `state` and `iss` for a bad request once the client and its redirect URI are known good',
  type: 'null',
  headers: { Location: { type: 'string', description: 'the redirect URI with the response parameters in its query' } },
};
const badRequest = {
  description:
    'An unknown client, a missing or unregistered redirect_uri, or parameters that cannot be read: an HTML page that says so, never a redirect. A malformed query string (broken percent-encoding, a NUL byte) is JSON invalid_request',
  content: {
    'text/html': { schema: { type: 'string' } },
    'application/json': { schema: oauthError('A malformed query string or body', ['invalid_request']) },
  },
};

const getSchema = {
  tags: ['oauth'],
  summary: 'Authorization endpoint (RFC 6749 §4.1, PKCE S256): the sign-in page',
  description:
    'The authorization code flow for public and confidential clients registered with authorization_code. A valid request gets the HTML sign-in form (CSRF-protected by the tessera_login_csrf cookie); a request that is bad once the client and redirect URI are known is redirected back with `error`.',
  security: [],
  querystring: parameters(AUTHORIZATION_PARAMETERS, {
    ...authorizationParameters,
    description: 'The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3); each parameter at most once',
  }),
  response: { 200: page('The sign-in page'), 302: toClient, 400: badRequest, 500: commonErrors[500], 503: commonErrors[503] },
};

const postSchema = {
  tags: ['oauth'],
  summary: 'The sign-in form posted: sign the user in and redirect to the client with a code',
  description:
    'What the sign-in page posts: the authorization request again (its hidden fields), `csrf`, `username` and `password`. The code is single-use, bound to the client, the redirect URI and the PKCE challenge.',
  security: [],
  consumes: FORM_OR_JSON,
  body: parameters(FORM_PARAMETERS, {
    ...authorizationParameters,
    required: [...authorizationParameters.required, 'csrf', 'username', 'password'],
  }),
  response: {
    302: toClient,
    400: badRequest,
    401: page('The username or password is not right: the form again, with the username kept'),
    403: page('The CSRF value does not match its cookie (an expired form, or one not sent from this page): the form again'),
    429: {
      ...page('Too many failed sign-ins for this username or address: the form again; even the right password waits'),
      headers: { 'Retry-After': { type: 'integer', description: 'seconds' } },
    },
    ...commonErrors,
  },
};

export interface AuthorizeServices {
  clients: Pick<Clients, 'find'>;
  users: Pick<Users, 'signIn'>;
  tokens: TokenLifecycle;
  issuer: string;
  secureCookies: boolean;
  metrics: Pick<Metrics, 'signInFailures' | 'throttled'>;
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

export function authorizeRoutes(
  app: FastifyInstance,
  { clients, users, tokens, issuer, secureCookies: secure, metrics }: AuthorizeServices,
): void {
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

  // documentationOnly: the schemas document; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.get('/authorize', { schema: getSchema, ...documentationOnly }, async (req: FastifyRequest, reply) => {
    const params = readParams(reply, req.query, AUTHORIZATION_PARAMETERS);
    if (!params) return reply;
    try {
      return showForm(reply, await checkAuthorizationRequest(clients, params), params, 200);
    } catch (error) {
      return fail(reply, error);
    }
  });

  app.post('/authorize', { schema: postSchema, ...documentationOnly }, async (req: FastifyRequest, reply) => {
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
      metrics.throttled.inc({ endpoint: '/authorize' });
      reply.header('Retry-After', String(error.retryAfter));
      return showForm(reply, request, params, 429, { username, error: 'Too many failed attempts. Please wait a while and try again.' });
    }
    if (!user) {
      metrics.signInFailures.inc({ endpoint: '/authorize' });
      return showForm(reply, request, params, 401, { username, error: 'The username or password is not right.' });
    }
    noteRequestParties(req, request.client.id, user.id);
    reply.clearCookie(LOGIN_CSRF_COOKIE, { path: '/authorize' });
    const code = await issueCode(tokens, request, user);
    return reply.redirect(redirectWith(request.redirectUri, { code, state: request.state, iss: issuer }), 302);
  });
}
