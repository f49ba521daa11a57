// POST /token/verify — for any service: is this access token valid now (and, with `audience`,
// for this service)? No client authentication.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TokenInspector } from '../tokens/inspector.js';
import { bodyParams } from './params.js';

const activeSchema = {
  type: 'object',
  properties: {
    active: { type: 'boolean' },
    sub: { type: 'string' },
    client_id: { type: 'string' },
    scope: { type: 'string' },
    exp: { type: 'integer' },
    aud: { type: 'string' },
    token_type: { type: 'string' },
  },
} as const;

function invalid(reply: FastifyReply, error: 'invalid_token' | 'invalid_request', description: string) {
  // RFC 6750 §3: a Bearer challenge with the error code.
  return reply
    .code(401)
    .header('WWW-Authenticate', `Bearer error="${error}", error_description="${description}"`)
    .send({ error, error_description: description });
}

export function verifyRoute(app: FastifyInstance, inspector: TokenInspector): void {
  app.post('/token/verify', { schema: { response: { 200: activeSchema } } }, async (request, reply) => {
    const params = bodyParams(request, ['token', 'audience']);
    const authorization = request.headers.authorization;
    // A Bearer header is a token presented: if it is not one token68 (RFC 6750 §2.1), it is a malformed token.
    const bearer =
      authorization !== undefined && /^Bearer\b/i.test(authorization) ? (/^Bearer +(\S+) *$/i.exec(authorization)?.[1] ?? '') : undefined;
    if (bearer !== undefined && params.token !== undefined)
      return invalid(reply, 'invalid_request', 'Send the token once: in the body or as a Bearer header');
    const token = bearer ?? params.token;
    if (token === undefined)
      return invalid(reply, 'invalid_request', 'No token: send token in the body or an Authorization: Bearer header');
    const active = await inspector.activeAccessToken(token, params.audience);
    if (!active) return invalid(reply, 'invalid_token', 'The token is not valid');
    return reply.send({
      active: true,
      sub: active.sub,
      client_id: active.client.id,
      scope: active.scope,
      exp: active.exp,
      aud: active.aud,
      token_type: 'Bearer',
    });
  });
}
