// Client authentication at the HTTP edge (RFC 6749 §2.3): HTTP Basic (client_secret_basic) or
// client_id/client_secret in the body (client_secret_post), or client_id alone (public client).
// Every endpoint that authenticates clients does it here, once, and hands the record on.
import type { FastifyRequest } from 'fastify';
import type { Clients } from '../domain/clients.js';
import { InvalidClientError, InvalidRequestError } from '../oauth/errors.js';
import { VSCHAR } from '../oauth/syntax.js';
import type { ClientRecord } from '../records.js';
import type { Params } from './params.js';

export const CLIENT_AUTH_PARAMETERS = ['client_id', 'client_secret'] as const;

interface ClientCredentials {
  clientId: string;
  clientSecret?: string;
}

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
  const clientId = formDecode(decoded.slice(0, colon));
  const clientSecret = formDecode(decoded.slice(colon + 1));
  // "id:" is a public client naming itself (some libraries send Basic with an empty secret).
  return clientSecret === '' ? { clientId } : { clientId, clientSecret };
}

/** The credentials the request carries, or null when it carries none. */
function clientCredentials(request: FastifyRequest, params: Params<(typeof CLIENT_AUTH_PARAMETERS)[number]>): ClientCredentials | null {
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

/** The authenticated client, or 401 invalid_client. */
export async function authenticateClient(
  clients: Pick<Clients, 'authenticate'>,
  request: FastifyRequest,
  params: Params<(typeof CLIENT_AUTH_PARAMETERS)[number]>,
): Promise<ClientRecord> {
  const credentials = clientCredentials(request, params);
  if (!credentials) throw new InvalidClientError('Invalid client: client authentication failed');
  // RFC 6749 Appendix A: both are VSCHAR; anything else is malformed, not merely wrong.
  if (!VSCHAR.test(credentials.clientId)) throw new InvalidRequestError('Invalid parameter: `client_id`');
  if (credentials.clientSecret !== undefined && !VSCHAR.test(credentials.clientSecret))
    throw new InvalidRequestError('Invalid parameter: `client_secret`');
  const client = await clients.authenticate(credentials.clientId, credentials.clientSecret);
  if (!client) throw new InvalidClientError('Invalid client: client authentication failed');
  return client;
}
