// GET /metrics for Prometheus, and the hook that counts every request.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';

export function metricsRoutes(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, not the URL: unknown paths would otherwise make unbounded label values.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: reply.statusCode });
    metrics.latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    done();
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
}
