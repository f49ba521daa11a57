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

export interface LogoutServices {
  clients: Pick<Clients, 'authenticate'>;
  tokens: Pick<TokenLifecycle, 'findRefreshToken'>;
  revocation: Pick<Revocation, 'revoke'>;
  browserCookies: BrowserCookies;
}

export function logoutRoute(app: FastifyInstance, services: LogoutServices): void {
  app.post('/token/logout', async (request, reply) => {
    const params = bodyParams(request, CLIENT_AUTH_PARAMETERS);
    const client = await authenticateClient(services.clients, request, params);
    if (!client.browser) throw new InvalidRequestError('Invalid request: only browser clients sign out here; others use /revoke');
    checkBrowserOrigin(request, client);
    const presented = await presentedRefreshCookie(request, services.browserCookies.csrfKey, services.tokens);
    // Revoking a refresh token ends its grant; another client's token, or none, ends nothing.
    if (presented?.record) await services.revocation.revoke(presented.token, client.id);
    clearBrowserSession(reply, services.browserCookies);
    return reply.code(204).send();
  });
}
