// POST /token/refresh — the refresh grant on its own: no grant_type needed.
import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../oauth/errors.js';
import { allParams } from './params.js';
import { answerTokenRequest, tokenResponseSchema, type TokenEndpointServices } from './token.js';

export function refreshRoute(app: FastifyInstance, services: TokenEndpointServices): void {
  app.post('/token/refresh', { schema: { response: { 200: tokenResponseSchema } } }, async (request, reply) => {
    const params = allParams(request.body);
    if (params.grant_type !== undefined && params.grant_type !== 'refresh_token') {
      throw new InvalidRequestError('Invalid request: this endpoint only refreshes; `grant_type` may only be refresh_token');
    }
    return answerTokenRequest(services, request, reply, { ...params, grant_type: 'refresh_token' });
  });
}
