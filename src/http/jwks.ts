// GET /.well-known/jwks.json — the public keys that verify JWT access tokens.
import type { FastifyInstance } from 'fastify';
import type { KeyRing } from '../tokens/keys.js';
import { documentationOnly } from './route-docs.js';

// fast-json-stringify drops what a schema does not list: the set and its keys allow more.
const jwkSet = {
  type: 'object',
  properties: {
    keys: {
      type: 'array',
      items: {
        type: 'object',
        description: 'a public signing key (RFC 7517)',
        properties: {
          kty: { type: 'string' },
          crv: { type: 'string' },
          x: { type: 'string' },
          y: { type: 'string' },
          kid: { type: 'string', description: "the key's RFC 7638 thumbprint: the `kid` of the JWTs it signed" },
          alg: { type: 'string' },
          use: { type: 'string', enum: ['sig'] },
        },
        additionalProperties: true,
      },
    },
  },
  additionalProperties: true,
} as const;

const schema = {
  tags: ['meta'],
  summary: 'The public keys that verify JWT access tokens (RFC 7517 JWK Set)',
  description:
    'The signing key and every retired key that still has unexpired tokens. After a rotation the new key signs and the old one stays published until every token it signed has expired; a revoked key leaves the set at once.',
  security: [],
  response: {
    200: {
      description: 'The JWK Set (Cache-Control: public, max-age=60)',
      content: { 'application/jwk-set+json': { schema: jwkSet } },
    },
  },
};

export function jwksRoute(app: FastifyInstance, keys: Pick<KeyRing, 'jwks'>): void {
  // documentationOnly: nothing to validate; the schema documents (src/http/route-docs.ts).
  app.get('/.well-known/jwks.json', { schema, ...documentationOnly }, async (_request, reply) =>
    // Short caching: a verifier meeting an unknown kid should fetch again anyway.
    reply.header('Cache-Control', 'public, max-age=60').type('application/jwk-set+json').send(keys.jwks()),
  );
}
