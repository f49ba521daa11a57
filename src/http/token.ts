// POST /token — RFC 6749 token endpoint, every grant.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Tessera } from '../tessera.js';
import '../metrics.js';
import { runTokenGrant, type IssuedTokens } from '../oauth/token-grant.js';
import { browserRefreshToken, cookiesMustBeSecure, setBrowserSession } from './browser-session.js';
import { clientCredentials } from './client-auth.js';
import { bodyParams } from './params.js';

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

/**
 * Runs a token request and answers it. A browser client's refresh token comes from and goes to
 * its cookie; everyone else's travels in the body.
 */
export async function answerTokenRequest(tessera: Tessera, request: FastifyRequest, reply: FastifyReply, params: Record<string, string>) {
  const credentials = clientCredentials(request, params);
  const client = credentials ? await tessera.state.clients.get(credentials.clientId) : null;
  const browser = client?.browser === true;
  if (browser && params.grant_type === 'refresh_token') params = { ...params, refresh_token: browserRefreshToken(request, params) };
  const issued: IssuedTokens = await runTokenGrant(tessera, params, credentials, request.ip);
  request.server.metrics.tokensIssued.inc({ grant: params.grant_type, format: issued.client.tokenFormat });
  if (browser && issued.refreshToken)
    setBrowserSession(reply, issued.client, issued.refreshToken, cookiesMustBeSecure(tessera.config.issuer));
  return reply.send({
    access_token: issued.accessToken,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    scope: issued.scope,
    ...(issued.refreshToken && !browser ? { refresh_token: issued.refreshToken } : {}),
  });
}

export function tokenRoute(app: FastifyInstance, tessera: Tessera): void {
  app.post('/token', { schema: { response: { 200: tokenResponseSchema } } }, async (request, reply) =>
    answerTokenRequest(tessera, request, reply, bodyParams(request)),
  );
}
