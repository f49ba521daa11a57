// GET /healthz (the process is up) and GET /readyz (and its database answers).
import type { FastifyInstance } from 'fastify';
import type { OutageOf } from './errors.js';
import { documentationOnly } from './route-docs.js';

// fast-json-stringify drops what a schema does not list: these allow more.
const status = (description: string, values: string[], extra: Record<string, object> = {}) => ({
  description,
  type: 'object',
  properties: { status: { type: 'string', enum: values }, ...extra },
  additionalProperties: true,
});

const healthz = {
  tags: ['meta'],
  summary: 'Liveness: the process is up (the database is not asked)',
  security: [],
  response: { 200: status('Up', ['ok']) },
};

const readyz = {
  tags: ['meta'],
  summary: 'Readiness: the database answers',
  security: [],
  response: {
    200: status('Ready', ['ready']),
    503: status('The database is not reachable', ['unavailable'], { error: { type: 'string', enum: ['database not reachable'] } }),
  },
};

export function healthRoutes(app: FastifyInstance, database: { ping(): Promise<void>; outage: OutageOf }): void {
  // documentationOnly: nothing to validate; the schemas document (src/http/route-docs.ts).
  app.get('/healthz', { schema: healthz, ...documentationOnly }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: readyz, ...documentationOnly }, async (request, reply) => {
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
