// GET /healthz (the process is up) and GET /readyz (and its database answers).
import type { FastifyInstance } from 'fastify';
import type { Tessera } from '../tessera.js';

export function healthRoutes(app: FastifyInstance, tessera: Tessera): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await tessera.store.ping();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'database not reachable');
      return reply.code(503).send({ status: 'unavailable', error: 'database not reachable' });
    }
  });
}
