// POST /token — RFC 6749 token endpoint, every grant: the client is authenticated once, the
// grant it asks for is looked up in the registry (src/oauth/grants/), and the grant's handler
// gets the client's record and the grant's own parameters.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clients } from '../domain/clients.js';
import type { Metrics } from '../metrics.js';
import type { GrantServices } from '../oauth/grants/grant.js';
import { grantFor, TOKEN_PARAMETERS } from '../oauth/token-request.js';
import { secondsUntil } from '../tokens/minter.js';
import { browserRefreshToken, checkBrowserOrigin, setBrowserSession, type BrowserCookies } from './browser-session.js';
import { authenticateClient } from './client-auth.js';
import { allParams, pick } from './params.js';

export const tokenResponseSchema = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string' },
    expires_in: { type: 'integer' },
    scope: { type: 'string' },
    refresh_token: { type: 'string' },
  },
} as const;

export interface TokenEndpointServices {
  clients: Pick<Clients, 'authenticate'>;
  grants: GrantServices;
  metrics: Metrics;
  browserCookies: BrowserCookies;
}

/**
 * Runs a token request and answers it. A browser client's refresh token comes from and goes to
 * its cookie, and only for requests from its own origins; everyone else's travels in the body.
 */
export async function answerTokenRequest(
  services: TokenEndpointServices,
  request: FastifyRequest,
  reply: FastifyReply,
  params: Record<string, string>,
) {
  const own = pick(params, TOKEN_PARAMETERS);
  const client = await authenticateClient(services.clients, request, own);
  const grant = grantFor(client, own.grant_type);
  const grantParams = pick(params, grant.parameters);
  // Before the grant runs: a refused request must neither use up a code or token nor set cookies.
  if (client.browser && grant.rules.issuesRefreshToken) checkBrowserOrigin(request, client);
  if (client.browser && grant.name === 'refresh_token') {
    grantParams.refresh_token = await browserRefreshToken(request, params, services.browserCookies.csrfKey, services.grants.tokens);
  }
  const issued = await grant.handle({ client, params: grantParams, address: request.ip }, services.grants);
  services.metrics.tokensIssued.inc({ grant: grant.name, format: client.tokenFormat });
  if (client.browser && issued.refreshToken !== undefined) setBrowserSession(reply, services.browserCookies, client, issued);
  return reply.send({
    access_token: issued.accessToken,
    token_type: 'Bearer',
    expires_in: secondsUntil(issued.expiresAt),
    scope: issued.scope,
    ...(issued.refreshToken && !client.browser ? { refresh_token: issued.refreshToken } : {}),
  });
}

export function tokenRoute(app: FastifyInstance, services: TokenEndpointServices): void {
  app.post('/token', { schema: { response: { 200: tokenResponseSchema } } }, async (request, reply) =>
    answerTokenRequest(services, request, reply, allParams(request.body)),
  );
}
