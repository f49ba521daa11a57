// POST /token/verify — for any service: is this access token valid now (and, with `audience`,
// for this service)? No client authentication.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TokenInspector } from '../tokens/inspector.js';
import { rolesAndGroups } from '../tokens/minter.js';
import { bearerToken, bodyParams, drfToken } from './params.js';
import { noteRequestParties } from './request-log.js';
import { commonErrors, documentationOnly, FORM_OR_JSON, noStore, oauthError, parameters, security, userLabels } from './route-docs.js';

// Every property the answer can hold: fast-json-stringify drops any other (src/http/route-docs.ts).
const activeSchema = {
  description: 'The token is active (and, with `audience`, issued for it)',
  type: 'object',
  properties: {
    active: { type: 'boolean', enum: [true] },
    sub: { type: 'string', description: "the user's id, or the client_id for a client's own token (client_credentials)" },
    client_id: { type: 'string', description: 'the client the token was issued to' },
    scope: { type: 'string', description: 'space-separated' },
    exp: { type: 'integer', description: 'expiry, seconds since the epoch' },
    aud: { type: 'string', description: "the token's audience: its client's registered audience, by default the issuer" },
    token_type: { type: 'string', enum: ['Bearer'] },
    roles: userLabels('roles'),
    groups: userLabels('groups'),
  },
  headers: noStore,
} as const;

const challenge = {
  'WWW-Authenticate': {
    type: 'string',
    description: 'Bearer error="invalid_token" (or "invalid_request"), error_description="…" (RFC 6750 §3)',
  },
};

const schema = {
  tags: ['tokens'],
  summary: 'Is this access token valid now? For any service; no client authentication',
  description:
    'The token goes in the body (`token`) or in `Authorization: Bearer` (or `Authorization: Token`, the header Django REST framework clients send), not both. Opaque and JWT access tokens alike, and Django REST framework keys brought over by `tessera import django`; refresh tokens are never valid here. ' +
    'A token that is unknown, expired, revoked, malformed, of an inactive or deleted user or of a deleted client, or (with `audience`) issued for another audience is 401 invalid_token.',
  security: security(['bearer', 'drfToken'], true),
  consumes: FORM_OR_JSON,
  body: parameters(['token', 'audience'], { own: { token: { description: 'the access token (or send it as Authorization: Bearer)' } } }),
  response: {
    200: activeSchema,
    400: oauthError('The body cannot be read (malformed encoding, a repeated or non-string parameter)', ['invalid_request']),
    401: oauthError(
      'invalid_token: the token is not valid; invalid_request: no token at all, or one both in the header and the body',
      ['invalid_token', 'invalid_request'],
      challenge,
    ),
    ...commonErrors,
  },
};

function invalid(reply: FastifyReply, error: 'invalid_token' | 'invalid_request', description: string) {
  // RFC 6750 §3: a Bearer challenge with the error code.
  return reply
    .code(401)
    .header('WWW-Authenticate', `Bearer error="${error}", error_description="${description}"`)
    .send({ error, error_description: description });
}

export function verifyRoute(app: FastifyInstance, inspector: TokenInspector): void {
  // documentationOnly: the schema documents; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.post('/token/verify', { schema, ...documentationOnly }, async (request, reply) => {
    const params = bodyParams(request, ['token', 'audience']);
    // A Bearer (or DRF Token) header is a token presented: if it is not one well-formed token, it is a malformed (invalid) one.
    const { authorization } = request.headers;
    const header = bearerToken(authorization) ?? drfToken(authorization);
    if (header !== undefined && params.token !== undefined)
      return invalid(reply, 'invalid_request', 'Send the token once: in the body or in the Authorization header');
    const token = header ?? params.token;
    if (token === undefined)
      return invalid(reply, 'invalid_request', 'No token: send token in the body or an Authorization: Bearer header');
    const active = await inspector.activeAccessToken(token, params.audience);
    if (!active) return invalid(reply, 'invalid_token', 'The token is not valid');
    noteRequestParties(request, active.client.id, active.sub);
    return reply.send({
      active: true,
      sub: active.sub,
      client_id: active.client.id,
      scope: active.scope,
      exp: active.exp,
      aud: active.aud,
      token_type: 'Bearer',
      ...rolesAndGroups(active.user),
    });
  });
}
