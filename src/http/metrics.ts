// The hook that counts every request of the public listener, the token endpoint's failed sign-ins,
// and GET /metrics for Prometheus on the admin listener.
import type { FastifyInstance } from 'fastify';
import { ThrottledError } from '../domain/throttle.js';
import type { Metrics } from '../metrics.js';
import { InvalidGrantError } from '../oauth/errors.js';

export function countRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, not the URL: unknown paths would otherwise make unbounded label values.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: reply.statusCode });
    metrics.latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    done();
  });
}

/**
 * A grant at POST /token failed with `error`, rethrown: counted when it is the password grant's
 * wrong username or password, or the login throttle's refusal (429), as the sign-in page counts them.
 */
export function countTokenFailure(metrics: Metrics, grant: string, error: unknown): never {
  if (error instanceof ThrottledError) metrics.throttled.inc({ endpoint: '/token' });
  else if (grant === 'password' && error instanceof InvalidGrantError) metrics.signInFailures.inc({ endpoint: '/token' });
  throw error;
}

const schema = {
  tags: ['meta'],
  summary: 'Prometheus metrics (text exposition format), unauthenticated on the admin listener',
  description:
    'Requests by route, method and status, and their latency; tokens issued by grant and format; sign-in failures and throttled requests; revocation stream listeners; build info.',
  security: [],
  response: { 200: { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
};

export function metricsRoute(admin: FastifyInstance, metrics: Metrics): void {
  // The schema documents (the admin OpenAPI document); there is nothing to validate, and the text answer is not serialized.
  admin.get('/metrics', { schema }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
