// The authorization endpoint (RFC 6749 §4.1, OpenID Connect Core 1.0 §3.1.2). GET /authorize
// answers a request from the browser's single sign-on session when it can — a redirect with a
// code, no page — and otherwise shows the sign-in page or, for a third-party client, the consent
// page. POST /authorize is the sign-in form: it starts a new session. POST /authorize/consent is
// the consent form. Both forms are protected against CSRF, and the code is issued only under a
// live session.
import { createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clients } from '../domain/clients.js';
import type { Consents } from '../domain/consents.js';
import { parseScope } from '../domain/scopes.js';
import type { LiveSession, Sessions } from '../domain/sessions.js';
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
  wantsNewSignIn,
  type AuthorizationParameters,
  type AuthorizationRequest,
} from '../oauth/authorization-request.js';
import { sameSecret } from '../tokens/constant-time.js';
import type { IdTokens } from '../tokens/id-token.js';
import type { TokenLifecycle } from '../tokens/lifecycle.js';
import { FormCsrf, sessionCookie, setSessionCookie, type SessionCookieOptions } from './page-cookies.js';
import { describeScopes, sendPage, type Pages } from './pages.js';
import { allParams, pick } from './params.js';
import { noteRequestParties } from './request-log.js';
import { commonErrors, documentationOnly, FORM_OR_JSON, oauthError, parameters } from './route-docs.js';

const SIGN_IN_CSRF = new FormCsrf('tessera_login_csrf', '/authorize');
/** The sign-in form's own fields, posted beside the authorization request. */
const FORM_PARAMETERS = [...AUTHORIZATION_PARAMETERS, 'csrf', 'username', 'password'] as const;
const CONSENT_PARAMETERS = [...AUTHORIZATION_PARAMETERS, 'csrf', 'decision'] as const;

// ── The OpenAPI description (src/http/route-docs.ts): documentation only, never a check ──

const page = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
const authorizationParameters = {
  own: { redirect_uri: { description: "one of the client's registered redirect URIs, compared exactly" } },
  required: ['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'code_challenge_method'],
};
const toClient = {
  description:
    'To the redirect URI (RFC 6749 §4.1.2, RFC 9207): `code`, `state` and `iss` once the user is signed in (and, for a third-party client, has approved its scopes); `error` (invalid_request, unsupported_response_type, unauthorized_client, invalid_scope, request_not_supported, request_uri_not_supported, login_required and consent_required for prompt=none, access_denied when the user denies consent), `error_description`, `state` and `iss` for a request that cannot be granted once the client and its redirect URI are known good',
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
const sessionCookieDoc = {
  cookies: {
    type: 'object',
    properties: { tessera_session: { type: 'string', description: 'the single sign-on session (HttpOnly, SameSite=Lax, Path=/)' } },
  },
};

const getSchema = {
  tags: ['oauth'],
  summary: 'Authorization endpoint (RFC 6749 §4.1, PKCE S256, OpenID Connect): a code at once, or the sign-in or consent page',
  description:
    "The authorization code flow for public and confidential clients registered with authorization_code. With a live session (the tessera_session cookie) that the request's prompt, max_age and id_token_hint accept (a hint naming another user asks for a sign-in; one that is not an ID token of this server is invalid_request), the answer is the redirect with a code, without a page, unless a third-party client needs the user's consent. Otherwise the HTML sign-in form (CSRF-protected by the tessera_login_csrf cookie), or the consent page; with prompt=none, the redirect with `login_required` or `consent_required` instead. A request that is bad once the client and redirect URI are known is redirected back with `error`.",
  security: [],
  querystring: parameters(AUTHORIZATION_PARAMETERS, {
    ...authorizationParameters,
    description: 'The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1); each parameter at most once',
  }),
  ...sessionCookieDoc,
  response: {
    200: page('The sign-in page, or the consent page of a third-party client'),
    302: toClient,
    400: badRequest,
    500: commonErrors[500],
    503: commonErrors[503],
  },
};

const postSchema = {
  tags: ['oauth'],
  summary: 'The sign-in form posted: start a session, then redirect to the client with a code (or ask for consent)',
  description:
    'What the sign-in page posts: the authorization request again (its hidden fields), `csrf`, `username` and `password`. A success starts a new single sign-on session (the tessera_session cookie, replacing any other) and answers as GET /authorize does with that session: the consent page for a third-party client that needs it, else the redirect with a code. The code is single-use, bound to the client, the redirect URI and the PKCE challenge.',
  security: [],
  consumes: FORM_OR_JSON,
  body: parameters(FORM_PARAMETERS, {
    ...authorizationParameters,
    required: [...authorizationParameters.required, 'csrf', 'username', 'password'],
  }),
  response: {
    200: page('The consent page: the user signed in, and the third-party client needs their approval'),
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

const consentSchema = {
  tags: ['oauth'],
  summary: "The consent form posted: approve (or deny) a third-party client's scopes",
  description:
    "What the consent page posts: the authorization request again (its hidden fields), `csrf` (bound to the browser's session and to the request) and `decision`. `allow` remembers the approval for this user and client (it covers these scopes and any subset of them next time) and redirects with a code; `deny` redirects with `error=access_denied`.",
  security: [],
  consumes: FORM_OR_JSON,
  body: parameters(CONSENT_PARAMETERS, {
    ...authorizationParameters,
    required: [...authorizationParameters.required, 'csrf', 'decision'],
    own: { csrf: { description: "the consent form's CSRF value (its hidden field), bound to the session and to the request" } },
  }),
  ...sessionCookieDoc,
  response: {
    302: toClient,
    400: badRequest,
    401: page('The session ended meanwhile: the sign-in page'),
    403: page('The CSRF value is not that of this session and request (an old form, or one not sent from this page)'),
    ...commonErrors,
  },
};

export interface AuthorizeServices {
  clients: Pick<Clients, 'find'>;
  users: Pick<Users, 'signIn'>;
  tokens: Pick<TokenLifecycle, 'issueCode'>;
  sessions: Pick<Sessions, 'find' | 'start'>;
  /** Reads an id_token_hint: a session of another user than the one it names does not answer. */
  idTokens: Pick<IdTokens, 'verifyHint'>;
  consents: Pick<Consents, 'covers' | 'approve'>;
  pages: Pages;
  issuer: string;
  sessionCookie: SessionCookieOptions;
  /** Keys the consent form's CSRF value to the session (derived from the server secret). */
  csrfKey: Buffer;
  metrics: Pick<Metrics, 'signInFailures' | 'throttled'>;
}

/** Whether a third-party client must ask the user first: prompt=consent, or scopes not approved yet. */
async function needsConsent(consents: AuthorizeServices['consents'], request: AuthorizationRequest, userId: string): Promise<boolean> {
  if (!request.client.consent) return false;
  if (request.prompt.has('consent')) return true;
  return !(await consents.covers(userId, request.client.id, parseScope(request.scope)));
}

export function authorizeRoutes(app: FastifyInstance, services: AuthorizeServices): void {
  const { users, tokens, sessions, consents, pages, issuer, metrics } = services;
  const secure = services.sessionCookie.secure;

  /**
   * The consent form's CSRF value: an HMAC of the session and the authorization request, so that
   * no other site can make it up, only a page shown under this very session can post it (a sign-in
   * as someone else meanwhile voids it), and what is approved is exactly the request the page showed.
   */
  const consentCsrf = (session: LiveSession, params: AuthorizationParameters) =>
    createHmac('sha256', services.csrfKey)
      .update(`consent\0${session.record.id}\0${JSON.stringify(pick(params, AUTHORIZATION_PARAMETERS))}`)
      .digest('base64url');

  /** The declared parameters, or the page that says what is wrong with them. */
  const readParams = <P extends string>(reply: FastifyReply, source: unknown, names: readonly P[]) => {
    try {
      return pick(allParams(source), names);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      void sendPage(reply, 400, pages.error({ description: error.message }));
      return null;
    }
  };

  /** The request checked, or null once the error has been answered (a page, or a redirect to the client). */
  const checked = async (reply: FastifyReply, params: AuthorizationParameters) => {
    try {
      return await checkAuthorizationRequest(services, params);
    } catch (error) {
      if (!(error instanceof AuthorizationError)) throw error;
      if (!error.redirect) void sendPage(reply, 400, pages.error({ description: error.description }));
      else void redirectError(reply, error.redirect, error.error, error.description);
      return null;
    }
  };

  const redirectError = (reply: FastifyReply, to: { uri: string; state: string | undefined }, error: string, description: string) =>
    reply.redirect(redirectWith(to.uri, { error, error_description: description, state: to.state, iss: issuer }), 302);

  const refuse = (reply: FastifyReply, request: AuthorizationRequest, error: string, description: string) =>
    redirectError(reply, { uri: request.redirectUri, state: request.state }, error, description);

  const showSignIn = (
    reply: FastifyReply,
    request: AuthorizationRequest,
    params: AuthorizationParameters,
    status: number,
    extra: { error?: string; username?: string | undefined } = {},
  ) => {
    const csrf = SIGN_IN_CSRF.issue(reply, secure);
    const { username, error } = extra;
    const html = pages.signIn({
      action: '/authorize',
      hidden: pick(params, AUTHORIZATION_PARAMETERS),
      csrf,
      clientName: request.client.name,
      scopes: parseScope(request.scope),
      ...(username === undefined ? {} : { username }),
      ...(error === undefined ? {} : { error }),
    });
    return sendPage(reply, status, html, request.redirectUri);
  };

  const showConsent = (reply: FastifyReply, request: AuthorizationRequest, params: AuthorizationParameters, session: LiveSession) => {
    const html = pages.consent({
      action: '/authorize/consent',
      hidden: pick(params, AUTHORIZATION_PARAMETERS),
      csrf: consentCsrf(session, params),
      clientName: request.client.name,
      scopes: describeScopes(parseScope(request.scope)),
      username: session.user.username,
    });
    return sendPage(reply, 200, html, request.redirectUri);
  };

  const sendCode = async (reply: FastifyReply, request: AuthorizationRequest, session: LiveSession) => {
    const code = await issueCode(tokens, request, session.record);
    return reply.redirect(redirectWith(request.redirectUri, { code, state: request.state, iss: issuer }), 302);
  };

  /** The user is signed in (now, or by a session the request accepts): ask for consent if needed, else the code. */
  const signedIn = async (reply: FastifyReply, request: AuthorizationRequest, params: AuthorizationParameters, session: LiveSession) => {
    if (await needsConsent(consents, request, session.user.id)) {
      if (request.prompt.has('none')) return refuse(reply, request, 'consent_required', 'The user has not approved this application');
      return showConsent(reply, request, params, session);
    }
    return sendCode(reply, request, session);
  };

  // documentationOnly: the schemas document; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.get('/authorize', { schema: getSchema, ...documentationOnly }, async (req: FastifyRequest, reply) => {
    const params = readParams(reply, req.query, AUTHORIZATION_PARAMETERS);
    if (!params) return reply;
    const request = await checked(reply, params);
    if (!request) return reply;
    const session = await sessions.find(sessionCookie(req));
    if (!session || wantsNewSignIn(request, session.record)) {
      if (request.prompt.has('none')) return refuse(reply, request, 'login_required', 'The user must sign in');
      return showSignIn(reply, request, params, 200, { username: request.loginHint });
    }
    noteRequestParties(req, request.client.id, session.user.id);
    return signedIn(reply, request, params, session);
  });

  app.post('/authorize', { schema: postSchema, ...documentationOnly }, async (req: FastifyRequest, reply) => {
    const params = readParams(reply, req.body, FORM_PARAMETERS);
    if (!params) return reply;
    const request = await checked(reply, params);
    if (!request) return reply;
    if (!SIGN_IN_CSRF.matches(req, params.csrf)) {
      return showSignIn(reply, request, params, 403, {
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
      return showSignIn(reply, request, params, 429, { username, error: 'Too many failed attempts. Please wait a while and try again.' });
    }
    if (!user) {
      metrics.signInFailures.inc({ endpoint: '/authorize' });
      return showSignIn(reply, request, params, 401, { username, error: 'The username or password is not right.' });
    }
    noteRequestParties(req, request.client.id, user.id);
    SIGN_IN_CSRF.clear(reply);
    // A new session whoever was signed in before: the browser's cookie now names this sign-in. The
    // previous session is not ended (its grants go on) and lapses unused.
    const started = await sessions.start(user.id);
    setSessionCookie(reply, started.value, services.sessionCookie);
    // The sign-in just happened: prompt=login and max_age are answered, and are not asked again.
    return signedIn(reply, request, params, { record: started.record, user });
  });

  app.post('/authorize/consent', { schema: consentSchema, ...documentationOnly }, async (req: FastifyRequest, reply) => {
    const params = readParams(reply, req.body, CONSENT_PARAMETERS);
    if (!params) return reply;
    const request = await checked(reply, params);
    if (!request) return reply;
    const session = await sessions.find(sessionCookie(req));
    if (!session) return showSignIn(reply, request, params, 401, { error: 'Your session has ended. Please sign in again.' });
    if (params.csrf === undefined || !sameSecret(params.csrf, consentCsrf(session, params))) {
      return sendPage(
        reply,
        403,
        pages.error({ description: 'This consent form expired or was not sent from this page. Go back to the application and try again.' }),
      );
    }
    noteRequestParties(req, request.client.id, session.user.id);
    if (params.decision === 'deny') return refuse(reply, request, 'access_denied', 'The user denied the request');
    if (params.decision !== 'allow') return sendPage(reply, 400, pages.error({ description: 'The consent form was not answered.' }));
    await consents.approve(session.user.id, request.client.id, parseScope(request.scope));
    return sendCode(reply, request, session);
  });
}
