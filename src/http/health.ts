// GET /healthz (the process is up) and GET /readyz (and its database answers).
import type { FastifyInstance } from 'fastify';
import type { OutageOf } from './errors.js';

export function healthRoutes(app: FastifyInstance, database: { ping(): Promise<void>; outage: OutageOf }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await database.ping();
      return { status: 'ready' };
    } catch (error) {
      // One line without a stack, as for the requests that fail alike meanwhile (src/http/errors.ts);
      // of another error (a refused password, say), the last line of its message says the cause.
      const { code, message } = database.outage(error) ?? {
        code: (error as { code?: unknown }).code,
        message: String((error as { message?: unknown }).message)
          .trim()
          .split('\n')
          .at(-1),
      };
      request.log.warn({ code }, `database not reachable: ${message}`);
      return reply.code(503).send({ status: 'unavailable', error: 'database not reachable' });
    }
  });
}
