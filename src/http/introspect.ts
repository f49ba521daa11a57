// POST /introspect — RFC 7662 token introspection for resource servers.
import type { FastifyInstance } from 'fastify';
import type { Clients } from '../domain/clients.js';
import { introspect } from '../oauth/introspection.js';
import type { TokenInspector } from '../tokens/inspector.js';
import { rolesAndGroups } from '../tokens/minter.js';
import { authenticateClient, CLIENT_AUTH_PARAMETERS } from './client-auth.js';
import { bodyParams } from './params.js';
import { noteRequestParties } from './request-log.js';
import {
  clientAuthentication,
  commonErrors,
  documentationOnly,
  FORM_OR_JSON,
  invalidClient,
  noStore,
  oauthError,
  parameters,
  userLabels,
} from './route-docs.js';

/** token_type_hint is read and ignored (RFC 7662 §2.1): the token's shape says what it is. */
const PARAMETERS = [...CLIENT_AUTH_PARAMETERS, 'token', 'token_type_hint'] as const;

// Every property the answer can hold: fast-json-stringify drops any other (src/http/route-docs.ts).
const introspectionSchema = {
  description:
    'RFC 7662 §2.2: `{"active": false}` alone for anything not active (or not the caller\'s to see); otherwise the token\'s details',
  type: 'object',
  properties: {
    active: { type: 'boolean' },
    scope: { type: 'string', description: 'space-separated' },
    client_id: { type: 'string', description: 'the client the token was issued to' },
    username: { type: 'string', description: "the user's username (absent for a client's own token)" },
    token_type: { type: 'string', enum: ['Bearer', 'refresh_token'], description: 'Bearer for an access token' },
    exp: { type: 'integer', description: 'seconds since the epoch' },
    iat: { type: 'integer', description: 'seconds since the epoch' },
    sub: { type: 'string', description: "the user's id, or the client_id for a client's own token" },
    aud: { type: 'string' },
    iss: { type: 'string', description: 'the issuer' },
    jti: { type: 'string', description: "the token's id: what a revocation on the stream names" },
    sid: { type: 'string', description: "a user's token: its grant (refresh family), as the revocation stream names it" },
    roles: userLabels('roles'),
    groups: userLabels('groups'),
  },
  headers: noStore,
} as const;

const schema = {
  tags: ['tokens'],
  summary: 'Token introspection (RFC 7662), for resource servers',
  description:
    'The caller authenticates as a confidential client (Basic, client_secret_post or private_key_jwt; a public client is invalid_client). A client may always introspect its own tokens; another client\'s only when registered to introspect, and otherwise it learns `{"active": false}`. ' +
    'Access and refresh tokens alike.',
  security: clientAuthentication,
  consumes: FORM_OR_JSON,
  body: parameters(PARAMETERS, { required: ['token'] }),
  response: {
    200: introspectionSchema,
    400: oauthError('No `token`, or a malformed request', ['invalid_request']),
    401: invalidClient,
    ...commonErrors,
  },
};

export interface IntrospectionServices {
  clients: Pick<Clients, 'authenticate'>;
  inspector: TokenInspector;
  issuer: string;
}

export function introspectRoute(app: FastifyInstance, { clients, inspector, issuer }: IntrospectionServices): void {
  // documentationOnly: the schema documents; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.post('/introspect', { schema, ...documentationOnly }, async (request, reply) => {
    const params = bodyParams(request, PARAMETERS);
    const caller = await authenticateClient(clients, request, params);
    noteRequestParties(request, caller.id);
    const active = await introspect(inspector, caller, params.token);
    if (!active) return reply.send({ active: false });
    noteRequestParties(request, caller.id, active.sub);
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
      ...rolesAndGroups(active.user),
    });
  });
}
