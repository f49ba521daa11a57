// POST /revoke — RFC 7009 token revocation: 200 for any token, known or not.
import type { FastifyInstance } from 'fastify';
import type { Clients } from '../domain/clients.js';
import { InvalidRequestError } from '../oauth/errors.js';
import type { Revocation } from '../tokens/revocation.js';
import { authenticateClient, CLIENT_AUTH_PARAMETERS } from './client-auth.js';
import { bodyParams } from './params.js';

/** token_type_hint is read and ignored (RFC 7009 §2.1): the token's shape says what it is. */
const PARAMETERS = [...CLIENT_AUTH_PARAMETERS, 'token', 'token_type_hint'] as const;

export function revokeRoute(app: FastifyInstance, services: { clients: Pick<Clients, 'authenticate'>; revocation: Revocation }): void {
  app.post('/revoke', async (request, reply) => {
    const params = bodyParams(request, PARAMETERS);
    const caller = await authenticateClient(services.clients, request, params);
    if (params.token === undefined) throw new InvalidRequestError('Missing parameter: `token`');
    await services.revocation.revoke(params.token, caller.id);
    return reply.code(200).send();
  });
}
