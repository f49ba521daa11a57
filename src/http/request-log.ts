// Request ids and the one log line per request. Every answer carries `X-Request-Id`: the caller's
// own when it is sane, else a fresh one; it is the `reqId` of every log line the request writes.
// With TESSERA_LOG_REQUESTS the request is logged once, when answered: method, route pattern (never
// the URL: a query string may carry a token or a code), status, time, and the client and user it
// concerned, which the endpoints note with `noteRequestParties`. Never a header, a body or a secret.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** At most 128 printable ASCII characters: anything else is replaced, not logged or echoed. */
const SANE_REQUEST_ID = /^[\x20-\x7E]{1,128}$/;

/**
 * Fastify's `genReqId` (with `requestIdHeader: false`, so that Fastify never takes the header
 * unchecked): the caller's `X-Request-Id` when it is sane, else a random UUID.
 */
export function requestId(raw: IncomingMessage): string {
  const given = raw.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

// Declared on every request (decorateRequest) so that noting them changes no object's shape.
const CLIENT_ID = Symbol('tessera.clientId');
const SUB = Symbol('tessera.sub');

interface Parties {
  [CLIENT_ID]: string | null;
  [SUB]: string | null;
}

/**
 * Who a request concerned, for its log line: the client (once authenticated) and, when known, the
 * user (`sub`). Two field writes, whether or not requests are logged: cheap enough for the hot path.
 */
export function noteRequestParties(request: FastifyRequest, clientId: string, sub?: string | null): void {
  const parties = request as FastifyRequest & Parties;
  parties[CLIENT_ID] = clientId;
  if (sub != null) parties[SUB] = sub;
}

/** The client the endpoint noted (null until it knows one): CORS answers by it (src/http/cors.ts). */
export function notedClientId(request: FastifyRequest): string | null {
  return (request as FastifyRequest & Parties)[CLIENT_ID];
}

function echoRequestId(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.header('X-Request-Id', request.id);
  done();
}

function logRequest(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const parties = request as FastifyRequest & Parties;
  request.log.info(
    {
      method: request.method,
      // The pattern (/register/:client_id), not the URL; null for a path no route has.
      route: request.routeOptions.url ?? null,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      client_id: parties[CLIENT_ID] ?? undefined,
      sub: parties[SUB] ?? undefined,
    },
    'request',
  );
  done();
}

/**
 * Echoes the request id on every answer and, when `logRequests`, writes the request's line.
 * Fastify's own request lines are off (see src/app.ts): they log the URL, query string included.
 */
export function registerRequestLog(app: FastifyInstance, logRequests: boolean): void {
  app.decorateRequest(CLIENT_ID, null);
  app.decorateRequest(SUB, null);
  app.addHook('onRequest', echoRequestId);
  if (logRequests) app.addHook('onResponse', logRequest);
}
