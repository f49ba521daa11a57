// One shape for every error: JSON {error, error_description} with the RFC's code and status.
// Nothing from inside the server (messages of unexpected errors, stack traces) reaches a response.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UnavailableError } from '../domain/errors.js';
import { ThrottledError } from '../domain/throttle.js';
import { OAuthError } from '../oauth/errors.js';

export interface ErrorBody {
  error: string;
  error_description: string;
}

function fromFastify(error: FastifyError): { status: number; body: ErrorBody } | null {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { error: 'invalid_request', error_description: 'Invalid request: the body is too large' } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 400,
        body: {
          error: 'invalid_request',
          error_description: 'Invalid request: send application/x-www-form-urlencoded or application/json',
        },
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'invalid_request', error_description: 'Invalid request: the body cannot be read' } };
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    // Fastify's own 4xx (malformed JSON, bad headers): its message says what, and nothing secret.
    return { status: error.statusCode, body: { error: 'invalid_request', error_description: `Invalid request: ${error.message}` } };
  }
  return null;
}

/** What an error that means the database cannot be reached now says (the store tells: see src/app.ts). */
export type OutageOf = (error: unknown) => { code: string; message: string } | undefined;

/** Seconds a client is asked to wait while the database is unreachable: restarts and failovers are short. */
const OUTAGE_RETRY_AFTER = 2;

/**
 * An unexpected error as it is logged: its class, code, and stack with the message cut to its last
 * line, and nothing else. A driver's error carries row values (a unique violation's `detail`
 * quotes the key), and the opening lines of a Prisma error's message the call's arguments.
 */
export function bugReport(error: unknown): { type: string; code?: unknown; stack: string } {
  if (!(error instanceof Error)) return { type: typeof error, stack: '' };
  const cause =
    error.message
      .split('\n')
      .filter((line) => line.trim() !== '')
      .at(-1) ?? '';
  const stack = error.stack ?? '';
  const frames = stack.indexOf('\n    at ');
  return {
    type: error.name,
    code: (error as { code?: unknown }).code,
    stack: `${error.name}: ${cause}${frames < 0 ? '' : stack.slice(frames)}`,
  };
}

/**
 * `outage` recognises the errors of an unreachable database: they are answered 503 with
 * Retry-After and logged as one warning line (an outage fails every request alike: a stack trace
 * each would drown the log), where any other unexpected error is a 500 logged with its stack.
 */
export function registerErrorHandling(app: FastifyInstance, outage: OutageOf): void {
  app.setErrorHandler((thrown: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (thrown instanceof OAuthError) {
      // RFC 6749 §5.2: invalid_client is 401, with a Basic challenge when the client tried Basic.
      if (thrown.error === 'invalid_client' && /^Basic\b/i.test(request.headers.authorization ?? ''))
        reply.header('WWW-Authenticate', 'Basic realm="tessera", charset="UTF-8"');
      return reply.code(thrown.status).send({ error: thrown.error, error_description: thrown.message });
    }
    if (thrown instanceof ThrottledError || thrown instanceof UnavailableError) {
      return reply
        .code(thrown instanceof ThrottledError ? 429 : 503)
        .header('Retry-After', String(thrown.retryAfter))
        .send({ error: 'temporarily_unavailable', error_description: thrown.message });
    }
    const known = fromFastify(thrown as FastifyError);
    if (known) return reply.code(known.status).send(known.body);
    // After Fastify's own: a client that hangs up mid-body is an ECONNRESET too, and a 400.
    const down = outage(thrown);
    if (down) {
      request.log.warn({ code: down.code }, `database unavailable: ${down.message}`);
      return reply
        .code(503)
        .header('Retry-After', String(OUTAGE_RETRY_AFTER))
        .send({ error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable: try again shortly' });
    }
    request.log.error({ err: bugReport(thrown) }, 'request failed');
    return reply.code(500).send({ error: 'server_error', error_description: 'The server could not handle the request' });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not_found', error_description: 'No such endpoint' }));
  // While the server drains on shutdown, a request that still arrives is told to come back (and
  // where: Connection: close sends the client's next try to another instance).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (closing) reply.header('Connection', 'close');
    done(closing ? new UnavailableError('The server is shutting down: try again', 1) : undefined);
  });
}

const CLIENT_ERRORS: Record<string, { status: number; description: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, description: 'Invalid request: it did not arrive in full in time' },
  HPE_HEADER_OVERFLOW: { status: 431, description: 'Invalid request: the headers are too large' },
};

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses before Fastify sees it
 * (a malformed request line, header or framing, oversized headers, a request that overran its
 * time) is answered in the same JSON shape as every other error, then the connection closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, description } = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, description: 'Invalid request: malformed HTTP' };
  const body = JSON.stringify({ error: 'invalid_request', error_description: description });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The router's refusals, before any route runs: 400 for a malformed URL, 414 for an over-long path parameter. */
export function routerErrorStatus(error: FastifyError): { status: number; description: string } {
  return error.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? { status: 414, description: 'Invalid request: a path segment is too long' }
    : { status: 400, description: 'Invalid request: the URL is malformed' };
}

/** Fastify's `frameworkErrors`: the router's refusals in the same JSON shape as every other error. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const { status, description } = routerErrorStatus(error);
  void reply.code(status).send({ error: 'invalid_request', error_description: description });
}
