// The scope of a token request (RFC 6749 §3.3): what was asked for, and what may be granted.
import { formatScope, parseScope } from '../domain/scopes.js';
import type { ClientRecord } from '../records.js';
import { InvalidScopeError } from './errors.js';

/** NQSCHAR: scope tokens and the spaces between them. */
const SCOPE_PARAMETER = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;

/** The scope parameter as a list; undefined when the request has none. */
export function requestedScope(scope: string | undefined): string[] | undefined {
  if (scope === undefined) return undefined;
  const trimmed = scope.trim();
  if (!SCOPE_PARAMETER.test(trimmed)) throw new InvalidScopeError('Invalid parameter: `scope`');
  return trimmed.split(/\s+/);
}

/** What a client may be granted: what it asked for, if registered; by default all it is registered for. */
export function clientScope(client: ClientRecord, requested: string[] | undefined): string {
  if (!requested) return formatScope(client.scopes);
  if (!requested.every((s) => client.scopes.includes(s))) throw new InvalidScopeError('Invalid scope: Requested scope is invalid');
  return formatScope(requested);
}

/** A refresh may narrow the scope its family was granted, never widen it (RFC 6749 §6). */
export function narrowedScope(granted: string, requested: string[] | undefined): string {
  if (!requested) return granted;
  const allowed = parseScope(granted);
  if (!requested.every((s) => allowed.includes(s))) throw new InvalidScopeError('Invalid scope: Unable to add extra scopes');
  return formatScope(requested);
}
