// POST /token/refresh — the refresh grant on its own: no grant_type needed.
import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../oauth/errors.js';
import { CLIENT_AUTH_PARAMETERS } from '../oauth/syntax.js';
import { allParams } from './params.js';
import { browserSession, clientAuthentication, documentationOnly, FORM_OR_JSON, parameters } from './route-docs.js';
import { answerTokenRequest, tokenErrors, tokenResponseSchema, type TokenEndpointServices } from './token.js';

const schema = {
  tags: ['oauth'],
  summary: 'Refresh: the refresh_token grant without grant_type',
  description:
    'The same as POST /token with grant_type=refresh_token, and the same answer: a new access token and a new refresh token (the presented one is used up; presented again, it ends its whole family). ' +
    'A public client sends `client_id`. A browser client sends no `refresh_token`: its tessera_refresh cookie and a matching X-CSRF-Token header instead, from one of its allowed origins.',
  security: clientAuthentication,
  consumes: FORM_OR_JSON,
  body: parameters(['grant_type', ...CLIENT_AUTH_PARAMETERS, 'refresh_token', 'scope'], {
    own: { grant_type: { description: 'optional; if sent, only `refresh_token`', enum: ['refresh_token'] } },
  }),
  ...browserSession,
  response: { 200: tokenResponseSchema, ...tokenErrors },
};

export function refreshRoute(app: FastifyInstance, services: TokenEndpointServices): void {
  // documentationOnly: the schema documents; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.post('/token/refresh', { schema, ...documentationOnly }, async (request, reply) => {
    const params = allParams(request.body);
    if (params.grant_type !== undefined && params.grant_type !== 'refresh_token') {
      throw new InvalidRequestError('Invalid request: this endpoint only refreshes; `grant_type` may only be refresh_token');
    }
    return answerTokenRequest(services, request, reply, { ...params, grant_type: 'refresh_token' });
  });
}
