// GET /.well-known/jwks.json — the public keys that verify JWT access tokens.
import type { FastifyInstance } from 'fastify';
import type { KeyRing } from '../tokens/keys.js';

export function jwksRoute(app: FastifyInstance, keys: Pick<KeyRing, 'jwks'>): void {
  app.get('/.well-known/jwks.json', async (_request, reply) =>
    // Short caching: a verifier meeting an unknown kid should fetch again anyway.
    reply.header('Cache-Control', 'public, max-age=60').type('application/jwk-set+json').send(keys.jwks()),
  );
}
