// Request parameters of the OAuth endpoints: a form (or JSON) body of single string values.
import type { FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../domain/errors.js';

/** Longer than any token, code or secret this server issues; a guard against oversize fields. */
export const MAX_PARAM_LENGTH = 4096;

/**
 * The body's parameters. RFC 6749 §3.1/§3.2: a parameter sent more than once is an error, and so
 * is anything that is not a string (JSON numbers, objects, arrays).
 */
export function bodyParams(request: FastifyRequest): Record<string, string> {
  const body = request.body;
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new InvalidRequestError('Invalid request: the body must be a form or a JSON object');
  const params: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new InvalidRequestError(`Invalid request: parameter \`${name}\` is repeated`);
    if (typeof value !== 'string') throw new InvalidRequestError(`Invalid request: parameter \`${name}\` must be a string`);
    if (value.length > MAX_PARAM_LENGTH) throw new InvalidRequestError(`Invalid request: parameter \`${name}\` is too long`);
    // An empty parameter is treated as omitted (RFC 6749 §3.1).
    if (value !== '') params[name] = value;
  }
  return params;
}
