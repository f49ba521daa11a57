// POST /token — RFC 6749 token endpoint, every grant.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Tessera } from '../tessera.js';
import { runTokenGrant, type IssuedTokens } from '../oauth/token-grant.js';
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

export function sendTokens(reply: FastifyReply, issued: IssuedTokens) {
  return reply.send({
    access_token: issued.accessToken,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    scope: issued.scope,
    ...(issued.refreshToken ? { refresh_token: issued.refreshToken } : {}),
  });
}

export function tokenRoute(app: FastifyInstance, tessera: Tessera): void {
  app.post('/token', { schema: { response: { 200: tokenResponseSchema } } }, async (request, reply) => {
    const params = bodyParams(request);
    const issued = await runTokenGrant(tessera, params, clientCredentials(request, params));
    return sendTokens(reply, issued);
  });
}
