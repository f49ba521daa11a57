// Client authentication at the HTTP edge (RFC 6749 §2.3): HTTP Basic (client_secret_basic) or
// client_id/client_secret in the body (client_secret_post), or client_id alone (public client).
import type { FastifyRequest } from 'fastify';
import { InvalidClientError, InvalidRequestError } from '../domain/errors.js';
import type { ClientCredentials } from '../oauth/token-grant.js';
import type { ClientRecord } from '../store/clients.js';
import type { Tessera } from '../tessera.js';

/** §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new InvalidClientError('Invalid client: malformed Basic credentials');
  }
}

function basicCredentials(header: string): ClientCredentials {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 1) throw new InvalidClientError('Invalid client: malformed Basic credentials');
  return {
    clientId: formDecode(decoded.slice(0, colon)),
    clientSecret: formDecode(decoded.slice(colon + 1)),
  };
}

/** The credentials the request carries, or null when it carries none. */
export function clientCredentials(request: FastifyRequest, params: Record<string, string>): ClientCredentials | null {
  const authorization = request.headers.authorization;
  if (authorization !== undefined && /^Basic\b/i.test(authorization)) {
    const basic = basicCredentials(authorization);
    if (params.client_secret !== undefined) throw new InvalidRequestError('Invalid request: use one client authentication method, not two');
    if (params.client_id !== undefined && params.client_id !== basic.clientId)
      throw new InvalidRequestError('Invalid request: `client_id` does not match the Basic credentials');
    return basic;
  }
  if (params.client_id === undefined) {
    if (params.client_secret !== undefined) throw new InvalidRequestError('Missing parameter: `client_id`');
    return null;
  }
  if (params.client_secret !== undefined) return { clientId: params.client_id, clientSecret: params.client_secret };
  return { clientId: params.client_id };
}

/** Authenticates the caller of /introspect or /revoke, or fails with 401 invalid_client. */
export async function authenticateClient(tessera: Tessera, request: FastifyRequest, params: Record<string, string>): Promise<ClientRecord> {
  const credentials = clientCredentials(request, params);
  const client = credentials && (await tessera.clients.authenticate(credentials.clientId, credentials.clientSecret));
  if (!client) throw new InvalidClientError('Invalid client: client authentication failed');
  return client;
}
