// GET /healthz (the process is up) and GET /readyz (and its database answers).
import type { FastifyInstance } from 'fastify';

export function healthRoutes(app: FastifyInstance, database: { ping(): Promise<void> }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await database.ping();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'database not reachable');
      return reply.code(503).send({ status: 'unavailable', error: 'database not reachable' });
    }
  });
}
