// The hook that counts every request of the public listener, and GET /metrics for Prometheus on
// the admin listener.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';

export function countRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, not the URL: unknown paths would otherwise make unbounded label values.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: reply.statusCode });
    metrics.latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    done();
  });
}

export function metricsRoute(admin: FastifyInstance, metrics: Metrics): void {
  admin.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
}
