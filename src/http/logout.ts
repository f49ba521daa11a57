// POST /token/logout — a browser client's sign-out. Its refresh token is an HttpOnly cookie that
// script never sees, so /revoke cannot take it; here the cookie itself is revoked (the whole
// family, and the access tokens issued from it) and both cookies are cleared.
import type { FastifyInstance } from 'fastify';
import type { Clients } from '../domain/clients.js';
import { InvalidRequestError } from '../oauth/errors.js';
import type { TokenLifecycle } from '../tokens/lifecycle.js';
import type { Revocation } from '../tokens/revocation.js';
import { checkBrowserOrigin, clearBrowserSession, presentedRefreshCookie, type BrowserCookies } from './browser-session.js';
import { authenticateClient, CLIENT_AUTH_PARAMETERS } from './client-auth.js';
import { bodyParams } from './params.js';
import { noteRequestParties } from './request-log.js';
import {
  browserSession,
  clientAuthentication,
  commonErrors,
  documentationOnly,
  FORM_OR_JSON,
  invalidClient,
  oauthError,
  parameters,
} from './route-docs.js';

export interface LogoutServices {
  clients: Pick<Clients, 'authenticate'>;
  tokens: Pick<TokenLifecycle, 'findRefreshToken'>;
  revocation: Pick<Revocation, 'revoke'>;
  browserCookies: BrowserCookies;
}

const schema = {
  tags: ['oauth'],
  summary: "A browser client's sign-out: revoke the refresh cookie's family and clear both cookies",
  description:
    'For browser clients only (others use POST /revoke), from one of their allowed origins. The tessera_refresh cookie, with a matching X-CSRF-Token header, is revoked: its family and the access tokens issued from it. ' +
    "Both cookies are cleared (same Path, Max-Age=0). Without a cookie, or with one that is not the client's, nothing is revoked and the answer is still 204.",
  security: clientAuthentication,
  consumes: FORM_OR_JSON,
  body: parameters(CLIENT_AUTH_PARAMETERS),
  ...browserSession,
  response: {
    204: {
      description: 'Signed out; both cookies cleared',
      type: 'null',
      headers: { 'Set-Cookie': { type: 'string', description: 'tessera_refresh and tessera_csrf, emptied with Max-Age=0' } },
    },
    400: oauthError('Not a browser client, a cookie without the matching X-CSRF-Token, or a malformed request', ['invalid_request']),
    401: invalidClient,
    403: oauthError('A request from an origin the client does not allow', ['invalid_request']),
    ...commonErrors,
  },
};

export function logoutRoute(app: FastifyInstance, services: LogoutServices): void {
  // documentationOnly: the schema documents; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.post('/token/logout', { schema, ...documentationOnly }, async (request, reply) => {
    const params = bodyParams(request, CLIENT_AUTH_PARAMETERS);
    const client = await authenticateClient(services.clients, request, params);
    noteRequestParties(request, client.id);
    if (!client.browser) throw new InvalidRequestError('Invalid request: only browser clients sign out here; others use /revoke');
    checkBrowserOrigin(request, client);
    const presented = await presentedRefreshCookie(request, services.browserCookies.csrfKey, services.tokens);
    // Revoking a refresh token ends its grant; another client's token, or none, ends nothing.
    if (presented?.record) await services.revocation.revoke(presented.token, client.id);
    clearBrowserSession(reply, services.browserCookies);
    return reply.code(204).send();
  });
}
