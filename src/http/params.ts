// Request parameters, read one way for every endpoint: a form, a JSON object or a query string of
// single string values (RFC 6749 §3.1: no parameter twice), and of those only the names the
// endpoint declares; the rest are dropped here, at the edge.
import type { FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../oauth/errors.js';
import { MALFORMED } from './form.js';

/** Longer than any token, code or secret this server issues; a guard against oversize fields. */
export const MAX_PARAM_LENGTH = 4096;
/**
 * Bounded by their own rules rather than MAX_PARAM_LENGTH (and by the body limit): a client
 * assertion may be longer, and one too long is invalid_client (RFC 7521 §4.2.1), not a bad request.
 */
const OWN_LIMIT = new Set(['client_assertion']);

export type Params<P extends string> = Partial<Record<P, string>>;

/**
 * Every parameter of `source`, checked: a parameter sent more than once is an error, and so is
 * anything that is not a string (JSON numbers, objects, arrays), is oversized or holds a NUL
 * character, and a form or query whose encoding is broken (http/form.ts). An empty value counts
 * as omitted (RFC 6749 §3.1).
 */
export function allParams(source: unknown): Record<string, string> {
  if (source === undefined || source === null || source === '') return {};
  if (typeof source !== 'object' || Array.isArray(source))
    throw new InvalidRequestError('Invalid request: the body must be a form or a JSON object');
  if (MALFORMED in source) throw new InvalidRequestError('Invalid request: malformed percent-encoding or characters that are not UTF-8');
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new InvalidRequestError(`Invalid request: parameter \`${name}\` is repeated`);
    if (typeof value !== 'string') throw new InvalidRequestError(`Invalid request: parameter \`${name}\` must be a string`);
    if (value.length > MAX_PARAM_LENGTH && !OWN_LIMIT.has(name))
      throw new InvalidRequestError(`Invalid request: parameter \`${name}\` is too long`);
    // Nothing legitimate carries NUL, and PostgreSQL refuses it in text: stop it here.
    if (holdsNul(value) || holdsNul(name)) throw new InvalidRequestError('Invalid request: a parameter holds a NUL character');
    // A lone UTF-16 surrogate (JSON's "\ud800") is not a character: no valid text holds one.
    if (LONE_SURROGATE.test(value) || LONE_SURROGATE.test(name))
      throw new InvalidRequestError('Invalid request: a parameter is not valid Unicode');
    if (value !== '') params[name] = value;
  }
  return params;
}

const LONE_SURROGATE = /\p{Cs}/u;

/** NUL: nothing legitimate carries it, and PostgreSQL refuses it in text. */
export const holdsNul = (text: string) => text.includes('\0');
/** NUL, or a lone UTF-16 surrogate (JSON's "\ud800"): no valid text holds either. */
export const holdsBadText = (text: string) => holdsNul(text) || LONE_SURROGATE.test(text);

/**
 * Where the first string or member name of a parsed JSON value (or params, or query) that `bad`
 * refuses is, as a path from `name` (`body/redirect_uris/0`), or null. Walked without recursion,
 * so that no nesting depth the body limit allows can overflow the stack.
 */
export function badTextIn(value: unknown, name: string, bad: (text: string) => boolean): string | null {
  const pending: [unknown, string][] = [[value, name]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [part, path] = next;
    if (typeof part === 'string') {
      if (bad(part)) return path;
    } else if (typeof part === 'object' && part !== null) {
      for (const [key, inner] of Object.entries(part)) {
        if (bad(key)) return path;
        pending.push([inner, `${path}/${key}`]);
      }
    }
  }
  return null;
}

/**
 * The token of an `Authorization: Bearer` header (RFC 6750 §2.1): undefined when the header is
 * not a Bearer one, '' when it is but holds no single well-formed token (a malformed token).
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  return schemeToken(authorization, BEARER);
}

/** The key of DRF's `Authorization: Token <key>` (what TokenAuthentication clients send), read like a Bearer token. */
export function drfToken(authorization: string | undefined): string | undefined {
  return schemeToken(authorization, DRF_TOKEN);
}

const BEARER = { scheme: /^Bearer\b/i, token: /^Bearer +([\x21-\x7e]{1,4096}) *$/i };
const DRF_TOKEN = { scheme: /^Token\b/i, token: /^Token +([\x21-\x7e]{1,4096}) *$/i };

function schemeToken(authorization: string | undefined, { scheme, token }: typeof BEARER): string | undefined {
  if (authorization === undefined || !scheme.test(authorization)) return undefined;
  return token.exec(authorization)?.[1] ?? '';
}

/**
 * An onRequest hook for every route: a query string that is malformed or holds a NUL character
 * is refused even where the endpoint reads nothing from it, so that no bad input is silently
 * accepted.
 */
export function refuseMalformedQuery(request: FastifyRequest, _reply: unknown, done: (error?: Error) => void): void {
  const query = request.query as Record<string | symbol, unknown> | undefined;
  if (query && typeof query === 'object' && (MALFORMED in query || Object.entries(query).some(([k, v]) => hasNul(k) || hasNul(v)))) {
    done(new InvalidRequestError('Invalid request: the query string is malformed'));
    return;
  }
  done();
}

const hasNul = (value: unknown): boolean => (Array.isArray(value) ? value.some(hasNul) : typeof value === 'string' && value.includes('\0'));

/** Only the declared parameters. */
export function pick<P extends string>(params: Params<string>, names: readonly P[]): Params<P> {
  const picked: Params<P> = {};
  for (const name of names) {
    const value = params[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/** The body's declared parameters (form or JSON). */
export function bodyParams<P extends string>(request: FastifyRequest, names: readonly P[]): Params<P> {
  return pick(allParams(request.body), names);
}
