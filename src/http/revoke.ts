// POST /revoke — RFC 7009 token revocation: 200 for any token, known or not.
import type { FastifyInstance } from 'fastify';
import type { Tessera } from '../tessera.js';
import { InvalidRequestError } from '../domain/errors.js';
import { authenticateClient } from './client-auth.js';
import { bodyParams } from './params.js';

export function revokeRoute(app: FastifyInstance, tessera: Tessera): void {
  app.post('/revoke', async (request, reply) => {
    const params = bodyParams(request);
    const caller = await authenticateClient(tessera, request, params);
    if (params.token === undefined) throw new InvalidRequestError('Missing parameter: `token`');
    await tessera.revocation.revoke(params.token, caller.id);
    return reply.code(200).send();
  });
}
