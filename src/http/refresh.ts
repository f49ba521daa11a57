// POST /token/refresh — the refresh grant on its own: no grant_type needed.
import type { FastifyInstance } from 'fastify';
import type { Tessera } from '../tessera.js';
import { InvalidRequestError } from '../domain/errors.js';
import { bodyParams } from './params.js';
import { answerTokenRequest, tokenResponseSchema } from './token.js';

export function refreshRoute(app: FastifyInstance, tessera: Tessera): void {
  app.post('/token/refresh', { schema: { response: { 200: tokenResponseSchema } } }, async (request, reply) => {
    const params = bodyParams(request);
    if (params.grant_type !== undefined && params.grant_type !== 'refresh_token') {
      throw new InvalidRequestError('Invalid request: this endpoint only refreshes; `grant_type` may only be refresh_token');
    }
    return answerTokenRequest(tessera, request, reply, { ...params, grant_type: 'refresh_token' });
  });
}
