// Builds the Fastify app from its parts: parsers, limits, error shape, and one file per endpoint.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { Tessera } from './tessera.js';
import { registerErrorHandling } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { introspectRoute } from './http/introspect.js';
import { jwksRoute } from './http/jwks.js';
import { metadataRoute } from './http/metadata.js';
import { refreshRoute } from './http/refresh.js';
import { revokeRoute } from './http/revoke.js';
import { tokenRoute } from './http/token.js';
import { verifyRoute } from './http/verify.js';

/** No legitimate request to this server comes near it; a larger one is refused with 413. */
export const BODY_LIMIT = 16 * 1024;

export async function buildApp(tessera: Tessera): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: tessera.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !tessera.config.logRequests }),
    bodyLimit: BODY_LIMIT,
    trustProxy: tessera.config.trustProxy,
    return503OnClosing: true,
  });
  await app.register(formbody, { bodyLimit: BODY_LIMIT });
  registerErrorHandling(app);
  // Nothing the OAuth endpoints answer, success or error, may be cached (RFC 6749 §5.1).
  app.addHook('onSend', async (request, reply) => {
    if (request.method === 'POST') reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
  });
  for (const route of [tokenRoute, refreshRoute, verifyRoute, introspectRoute, revokeRoute, metadataRoute, jwksRoute, healthRoutes]) {
    route(app, tessera);
  }
  return app;
}
