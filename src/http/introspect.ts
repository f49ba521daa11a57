// POST /introspect — RFC 7662 token introspection for resource servers.
import type { FastifyInstance } from 'fastify';
import type { Tessera } from '../tessera.js';
import { InvalidClientError, InvalidRequestError } from '../domain/errors.js';
import { authenticateClient } from './client-auth.js';
import { bodyParams } from './params.js';

const introspectionSchema = {
  type: 'object',
  properties: {
    active: { type: 'boolean' },
    scope: { type: 'string' },
    client_id: { type: 'string' },
    username: { type: 'string' },
    token_type: { type: 'string' },
    exp: { type: 'integer' },
    iat: { type: 'integer' },
    sub: { type: 'string' },
    aud: { type: 'string' },
    iss: { type: 'string' },
    jti: { type: 'string' },
  },
} as const;

export function introspectRoute(app: FastifyInstance, tessera: Tessera): void {
  const iss = tessera.config.issuer;
  app.post('/introspect', { schema: { response: { 200: introspectionSchema } } }, async (request, reply) => {
    const params = bodyParams(request);
    const caller = await authenticateClient(tessera, request, params);
    if (caller.secretDigest === null) throw new InvalidClientError('Invalid client: introspection needs a confidential client');
    if (params.token === undefined) throw new InvalidRequestError('Missing parameter: `token`');
    const active = await tessera.inspector.anyToken(params.token);
    // A client may always introspect its own tokens; others' only with the introspect permission.
    if (!active || (!caller.canIntrospect && active.client.id !== caller.id)) return reply.send({ active: false });
    return reply.send({
      active: true,
      scope: active.scope,
      client_id: active.client.id,
      ...(active.username !== null ? { username: active.username } : {}),
      token_type: active.tokenType === 'access_token' ? 'Bearer' : 'refresh_token',
      exp: active.exp,
      iat: active.iat,
      sub: active.sub,
      aud: active.aud,
      iss,
      jti: active.jti,
    });
  });
}
