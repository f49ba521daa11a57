// POST /revoke — RFC 7009 token revocation: 200 for any token, known or not.
import type { FastifyInstance } from 'fastify';
import type { Clients } from '../domain/clients.js';
import { InvalidRequestError } from '../oauth/errors.js';
import type { Revocation } from '../tokens/revocation.js';
import { authenticateClient, CLIENT_AUTH_PARAMETERS } from './client-auth.js';
import { bodyParams } from './params.js';
import { noteRequestParties } from './request-log.js';
import {
  clientAuthentication,
  commonErrors,
  documentationOnly,
  FORM_OR_JSON,
  invalidClient,
  oauthError,
  parameters,
} from './route-docs.js';

/** token_type_hint is read and ignored (RFC 7009 §2.1): the token's shape says what it is. */
const PARAMETERS = [...CLIENT_AUTH_PARAMETERS, 'token', 'token_type_hint'] as const;

const schema = {
  tags: ['tokens'],
  summary: 'Token revocation (RFC 7009)',
  description:
    "200 for any token, known or not; a client revokes only its own tokens (another client's token changes nothing, and still answers 200). " +
    'Revoking a refresh token revokes its whole family and the access tokens issued from it. A revoked JWT access token is inactive at /introspect and /token/verify and announced on GET /revocations. ' +
    'Any client authenticates: Basic, client_secret_post, private_key_jwt, or `client_id` alone for a public client.',
  security: clientAuthentication,
  consumes: FORM_OR_JSON,
  body: parameters(PARAMETERS, { required: ['token'] }),
  response: {
    200: { description: 'Revoked, or nothing to revoke: an empty body', type: 'null' },
    400: oauthError('No `token`, or a malformed request (broken encoding, NUL bytes, a repeated parameter)', ['invalid_request']),
    401: invalidClient,
    ...commonErrors,
  },
};

export function revokeRoute(app: FastifyInstance, services: { clients: Pick<Clients, 'authenticate'>; revocation: Revocation }): void {
  // documentationOnly: the schema documents; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.post('/revoke', { schema, ...documentationOnly }, async (request, reply) => {
    const params = bodyParams(request, PARAMETERS);
    const caller = await authenticateClient(services.clients, request, params);
    noteRequestParties(request, caller.id);
    if (params.token === undefined) throw new InvalidRequestError('Missing parameter: `token`');
    await services.revocation.revoke(params.token, caller.id);
    return reply.code(200).send();
  });
}
