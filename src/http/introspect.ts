// POST /introspect — RFC 7662 token introspection for resource servers.
import type { FastifyInstance } from 'fastify';
import type { Clients } from '../domain/clients.js';
import { introspect } from '../oauth/introspection.js';
import type { TokenInspector } from '../tokens/inspector.js';
import { authenticateClient, CLIENT_AUTH_PARAMETERS } from './client-auth.js';
import { bodyParams } from './params.js';

/** token_type_hint is read and ignored (RFC 7662 §2.1): the token's shape says what it is. */
const PARAMETERS = [...CLIENT_AUTH_PARAMETERS, 'token', 'token_type_hint'] as const;

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
    sid: { type: 'string' },
  },
} as const;

export interface IntrospectionServices {
  clients: Pick<Clients, 'authenticate'>;
  inspector: TokenInspector;
  issuer: string;
}

export function introspectRoute(app: FastifyInstance, { clients, inspector, issuer }: IntrospectionServices): void {
  app.post('/introspect', { schema: { response: { 200: introspectionSchema } } }, async (request, reply) => {
    const params = bodyParams(request, PARAMETERS);
    const caller = await authenticateClient(clients, request, params);
    const active = await introspect(inspector, caller, params.token);
    if (!active) return reply.send({ active: false });
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
      iss: issuer,
      jti: active.jti,
      // As in JWT access tokens: what a family's revocation on the stream names (GET /revocations).
      ...(active.sid !== null ? { sid: active.sid } : {}),
    });
  });
}
