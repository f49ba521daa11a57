// GET and POST /logout: OpenID Connect RP-Initiated Logout 1.0 (the end_session_endpoint). With a
// valid id_token_hint the session it names ends at once with every refresh family it started;
// without one, or when the browser holds another session of the hint's user, the user confirms
// first, on a page whose form is CSRF-protected. Then the browser goes back to the client's registered
// post_logout_redirect_uri, with `state`, or sees the signed-out page.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clients } from '../domain/clients.js';
import type { Sessions } from '../domain/sessions.js';
import { redirectWith } from '../oauth/authorization-request.js';
import { OAuthError } from '../oauth/errors.js';
import { checkLogoutRequest, LOGOUT_PARAMETERS, LogoutError, type LogoutRequest } from '../oauth/logout-request.js';
import type { IdTokenHint, IdTokens } from '../tokens/id-token.js';
import { clearSessionCookie, FormCsrf, sessionCookie } from './page-cookies.js';
import { sendPage, type Pages } from './pages.js';
import { allParams, pick } from './params.js';
import { noteRequestParties } from './request-log.js';
import { commonErrors, documentationOnly, FORM_OR_JSON, parameters } from './route-docs.js';

const CONFIRM_CSRF = new FormCsrf('tessera_logout_csrf', '/logout');
/** What the confirmation page posts: the validated request again, and its CSRF value. */
const CONFIRM_PARAMETERS = [...LOGOUT_PARAMETERS, 'csrf'] as const;

// ── The OpenAPI description (src/http/route-docs.ts): documentation only, never a check ──

const page = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
const responses = {
  200: page(
    "The signed-out page (no post_logout_redirect_uri), or the page that asks the user to confirm: without an id_token_hint, or when the browser's session is the hint's user's but not the session the hint names",
  ),
  302: {
    description: 'Signed out: to the post_logout_redirect_uri, with `state` when the request had one',
    type: 'null',
    headers: { Location: { type: 'string', description: 'the post_logout_redirect_uri with `state` in its query' } },
  },
  400: page(
    'An id_token_hint that is not an ID token of this server, a client_id that is unknown or differs from the hint, a post_logout_redirect_uri that is not registered for the client (or with neither a hint nor a client_id to check it against): an error page, never a redirect, and nothing ends',
  ),
  500: commonErrors[500],
  503: commonErrors[503],
};
const description =
  "RP-Initiated Logout 1.0. With a valid id_token_hint (an expired one counts), the session the hint's `sid` names ends if it is the hint's user's, with the refresh families it started (announced on the revocation stream), even when pruning has removed the session itself; the tessera_session cookie is cleared when it named that session. When the browser holds another session of the hint's user, the user confirms first. Without a hint, a page asks the user to confirm. The confirmation form (POST, CSRF-protected by the tessera_logout_csrf cookie) ends the browser's session, and the hint's session if it is the hint's user's. `logout_hint` and `ui_locales` are read and ignored.";

const getSchema = {
  tags: ['oauth'],
  summary: 'End-session endpoint (OpenID Connect RP-Initiated Logout)',
  description,
  security: [],
  querystring: parameters(LOGOUT_PARAMETERS, { description: 'The logout request (RP-Initiated Logout §2); each parameter at most once' }),
  response: responses,
};

const postSchema = {
  tags: ['oauth'],
  summary: 'End-session endpoint, posted: a logout request, or the confirmation page answered',
  description: `${description} A body with \`csrf\` is the confirmation page answered: its value must match the cookie, else 403 and nothing ends.`,
  security: [],
  consumes: FORM_OR_JSON,
  body: parameters(CONFIRM_PARAMETERS, {
    own: { csrf: { description: "the confirmation form's CSRF value (its hidden field), matched against the tessera_logout_csrf cookie" } },
  }),
  response: {
    ...responses,
    403: page('A confirmation whose CSRF value does not match its cookie: nothing ends'),
    413: commonErrors[413],
  },
};

export interface EndSessionServices {
  clients: Pick<Clients, 'find'>;
  sessions: Pick<Sessions, 'find' | 'end' | 'endOwnedBy'>;
  idTokens: Pick<IdTokens, 'verifyHint'>;
  pages: Pages;
  /** Whether cookies must be Secure (cookiesMustBeSecure in browser-session.ts). */
  secureCookies: boolean;
}

export function endSessionRoutes(app: FastifyInstance, services: EndSessionServices): void {
  const { sessions, pages, secureCookies: secure } = services;

  const errorPage = (reply: FastifyReply, status: number, description: string) => sendPage(reply, status, pages.error({ description }));

  const signedOut = (reply: FastifyReply, logout: LogoutRequest) =>
    logout.redirectUri === undefined
      ? sendPage(reply, 200, pages.signedOut())
      : reply.redirect(redirectWith(logout.redirectUri, { state: logout.state }), 302);

  /** The page that asks the user to confirm, carrying the checked request (and its hint, if any) to its form. */
  const confirmPage = (reply: FastifyReply, params: Record<string, string | undefined>, checked: LogoutRequest) => {
    const html = pages.logoutConfirm({
      action: '/logout',
      hidden: pick(params, LOGOUT_PARAMETERS),
      csrf: CONFIRM_CSRF.issue(reply, secure),
      ...(checked.client ? { clientName: checked.client.name } : {}),
    });
    return sendPage(reply, 200, html, checked.redirectUri);
  };

  /** Clears a cookie that names no session any more, or the one that just ended. */
  const clearCookie = (request: FastifyRequest, reply: FastifyReply) => {
    if (sessionCookie(request) !== undefined) clearSessionCookie(reply, { secure });
  };

  /**
   * A logout with a hint. The session the hint's `sid` names is the client's own: it ends (if it
   * is the hint's user's) without asking, and the browser's cookie goes with it when it is that
   * session. Any other live session in this browser is not the client's to end without asking
   * (§2: an ID token from another session does not speak for this one): the hint's user confirms
   * first, and another user's session is left alone.
   */
  const endHinted = async (
    request: FastifyRequest,
    reply: FastifyReply,
    params: Record<string, string | undefined>,
    checked: LogoutRequest,
    hint: IdTokenHint,
  ) => {
    const browser = await sessions.find(sessionCookie(request));
    if (browser && browser.user.id === hint.sub && browser.record.id !== hint.sessionId) return confirmPage(reply, params, checked);
    if (hint.sessionId !== null) await sessions.endOwnedBy(hint.sessionId, hint.sub);
    if (browser === null || browser.record.id === hint.sessionId) clearCookie(request, reply);
    return signedOut(reply, checked);
  };

  const logout = async (request: FastifyRequest, reply: FastifyReply, source: unknown, names: readonly string[]) => {
    let params;
    try {
      params = pick(allParams(source), names);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      return errorPage(reply, 400, error.message);
    }
    let checked: LogoutRequest;
    try {
      checked = await checkLogoutRequest(services, params);
    } catch (error) {
      if (!(error instanceof LogoutError)) throw error;
      return errorPage(reply, 400, error.message);
    }
    if (checked.hint) noteRequestParties(request, checked.hint.clientId, checked.hint.sub);
    if (params.csrf !== undefined) {
      if (!CONFIRM_CSRF.matches(request, params.csrf))
        return errorPage(reply, 403, 'This sign-out form expired or was not sent from this page. Please try again.');
      // Confirmed: the browser's session ends, and the hint's session if it is the hint's user's.
      CONFIRM_CSRF.clear(reply);
      const browser = await sessions.find(sessionCookie(request));
      if (browser) await sessions.end(browser.record);
      const { hint } = checked;
      if (hint?.sessionId && hint.sessionId !== browser?.record.id) await sessions.endOwnedBy(hint.sessionId, hint.sub);
      clearCookie(request, reply);
      return signedOut(reply, checked);
    }
    if (checked.hint) return endHinted(request, reply, params, checked, checked.hint);
    // No hint: nothing says the client speaks for this user, so the user decides (§2: the OP asks).
    return confirmPage(reply, params, checked);
  };

  // documentationOnly: the schemas document; the endpoint reads its parameters itself (src/http/route-docs.ts).
  // A confirmation is posted only: a link cannot sign anyone out without the hint.
  app.get('/logout', { schema: getSchema, ...documentationOnly }, (request, reply) =>
    logout(request, reply, request.query, LOGOUT_PARAMETERS),
  );
  app.post('/logout', { schema: postSchema, ...documentationOnly }, (request, reply) =>
    logout(request, reply, request.body, CONFIRM_PARAMETERS),
  );
}
