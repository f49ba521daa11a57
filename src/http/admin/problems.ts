// Errors of the admin API as RFC 9457 problem details (application/problem+json): the status, a
// short title, and a detail that says what to change. Like every error of this server, nothing
// from inside it (an unexpected error's message, a stack) reaches a response.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DumpError } from '../../domain/django-import.js';
import { AdminError, NoSuchError, UnavailableError } from '../../domain/errors.js';
import { OAuthError } from '../../oauth/errors.js';
import { bugReport, routerErrorStatus, type OutageOf } from '../errors.js';

/** The admin API refused the caller: 401 (no valid admin token) or 403 (a token without tessera:admin). */
export class AdminAuthError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

/** `extensions`: members beyond the standard ones (RFC 9457 §3.2), such as a dump's `problems`. */
export function sendProblem(reply: FastifyReply, status: number, detail: string, extensions: object = {}): FastifyReply {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, ...extensions });
}

/** What a schema refused, naming the field: `body/scopes/0 must NOT have more than 200 characters`. */
function validationDetail(error: FastifyError): string {
  const [first] = error.validation ?? [];
  if (!first) return 'the request does not match its schema';
  const unknown = (first.params as { additionalProperty?: unknown }).additionalProperty;
  const where = `${error.validationContext ?? 'request'}${first.instancePath}`;
  return typeof unknown === 'string' ? `${where} has an unknown field "${unknown}"` : `${where} ${first.message ?? 'is invalid'}`;
}

/** Fastify's own refusals (schema validation, body parsing) as the status and detail to answer. */
function fromFastify(error: FastifyError): { status: number; detail: string } | null {
  if (error.validation) return { status: 400, detail: validationDetail(error) };
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, detail: 'the body is too large' };
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, detail: 'send application/json' };
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return { status: error.statusCode, detail: error.message };
  return null;
}

export function registerProblemHandling(admin: FastifyInstance, outage: OutageOf): void {
  admin.setErrorHandler((thrown: unknown, request, reply) => {
    if (thrown instanceof AdminAuthError) {
      const error = thrown.status === 401 ? 'invalid_token' : 'insufficient_scope';
      reply.header('WWW-Authenticate', `Bearer realm="tessera-admin", error="${error}"`);
      return sendProblem(reply, thrown.status, thrown.message);
    }
    if (thrown instanceof NoSuchError) return sendProblem(reply, 404, thrown.message);
    if (thrown instanceof DumpError) return sendProblem(reply, 400, thrown.message, { problems: thrown.problems });
    if (thrown instanceof AdminError) return sendProblem(reply, 400, thrown.message);
    if (thrown instanceof UnavailableError) {
      return sendProblem(reply.header('Retry-After', String(thrown.retryAfter)), 503, thrown.message);
    }
    // The shared strict JSON parser (src/http/json-body.ts) refuses a body that is not UTF-8 with an OAuth invalid_request.
    if (thrown instanceof OAuthError && thrown.status < 500) return sendProblem(reply, thrown.status, thrown.message);
    const known = fromFastify(thrown as FastifyError);
    if (known) return sendProblem(reply, known.status, known.detail);
    const down = outage(thrown);
    if (down) {
      request.log.warn({ code: down.code }, `database unavailable: ${down.message}`);
      return sendProblem(reply.header('Retry-After', '2'), 503, 'the database is unavailable: try again shortly');
    }
    request.log.error({ err: bugReport(thrown) }, 'admin request failed');
    return sendProblem(reply, 500, 'the server could not handle the request');
  });
  admin.setNotFoundHandler((_request, reply) => sendProblem(reply, 404, 'no such endpoint'));
}

/** Fastify's `frameworkErrors` for the admin listener: the router's refusals as problem details. */
export function adminFrameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const { status, description } = routerErrorStatus(error);
  void sendProblem(reply, status, description.replace(/^Invalid request: /, ''));
}
