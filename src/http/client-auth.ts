// Client authentication at the HTTP edge (RFC 6749 §2.3): HTTP Basic (client_secret_basic) or
// client_id/client_secret in the body (client_secret_post), a signed assertion (RFC 7523
// private_key_jwt), or client_id alone (public client). Every endpoint that authenticates clients
// does it here, once, and hands the record on.
import type { FastifyRequest } from 'fastify';
import { ClientAssertionError } from '../domain/client-assertions.js';
import type { ClientCredentials, Clients } from '../domain/clients.js';
import { InvalidClientError, InvalidRequestError } from '../oauth/errors.js';
import { CLIENT_AUTH_PARAMETERS, VSCHAR } from '../oauth/syntax.js';
import type { ClientRecord } from '../records.js';
import type { Params } from './params.js';

export { CLIENT_AUTH_PARAMETERS };

/** RFC 7523 §2.2: the one assertion type accepted. */
const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

type ClientAuthParams = Params<(typeof CLIENT_AUTH_PARAMETERS)[number]>;

const TWO_METHODS = 'Invalid request: use one client authentication method, not two';

/** §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new InvalidClientError('Invalid client: malformed Basic credentials');
  }
}

function basicCredentials(header: string): { clientId: string; secret?: string } {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 1) throw new InvalidClientError('Invalid client: malformed Basic credentials');
  const clientId = formDecode(decoded.slice(0, colon));
  const clientSecret = formDecode(decoded.slice(colon + 1));
  // "id:" is a public client naming itself (some libraries send Basic with an empty secret).
  return clientSecret === '' ? { clientId } : { clientId, secret: clientSecret };
}

/** The assertion the body carries (RFC 7521 §4.2), or null when it carries none. */
function assertionCredentials(params: ClientAuthParams): ClientCredentials | null {
  const { client_assertion: assertion, client_assertion_type: type } = params;
  if (assertion === undefined && type === undefined) return null;
  if (assertion === undefined) throw new InvalidRequestError('Missing parameter: `client_assertion`');
  if (type === undefined) throw new InvalidRequestError('Missing parameter: `client_assertion_type`');
  if (type !== JWT_BEARER_ASSERTION)
    throw new InvalidClientError(`Invalid client: \`client_assertion_type\` must be ${JWT_BEARER_ASSERTION}`);
  return params.client_id === undefined ? { assertion } : { assertion, clientId: params.client_id };
}

/** The credentials the request carries, or null when it carries none. */
function clientCredentials(request: FastifyRequest, params: ClientAuthParams): ClientCredentials | null {
  const authorization = request.headers.authorization;
  const usesBasic = authorization !== undefined && /^Basic\b/i.test(authorization);
  // Two methods at once is a malformed request (RFC 6749 §2.3), whatever either of them holds.
  const methods =
    Number(usesBasic) +
    Number(params.client_secret !== undefined) +
    Number(params.client_assertion !== undefined || params.client_assertion_type !== undefined);
  if (methods > 1) throw new InvalidRequestError(TWO_METHODS);
  const assertion = assertionCredentials(params);
  if (usesBasic) {
    const basic = basicCredentials(authorization);
    if (params.client_id !== undefined && params.client_id !== basic.clientId)
      throw new InvalidRequestError('Invalid request: `client_id` does not match the Basic credentials');
    return basic;
  }
  if (assertion) return assertion;
  if (params.client_id === undefined) {
    if (params.client_secret !== undefined) throw new InvalidRequestError('Missing parameter: `client_id`');
    return null;
  }
  if (params.client_secret !== undefined) return { clientId: params.client_id, secret: params.client_secret };
  return { clientId: params.client_id };
}

/** The authenticated client, or 401 invalid_client. */
export async function authenticateClient(
  clients: Pick<Clients, 'authenticate'>,
  request: FastifyRequest,
  params: ClientAuthParams,
): Promise<ClientRecord> {
  const credentials = clientCredentials(request, params);
  if (!credentials) throw new InvalidClientError('Invalid client: client authentication failed');
  // RFC 6749 Appendix A: both are VSCHAR; anything else is malformed, not merely wrong.
  if (credentials.clientId !== undefined && !VSCHAR.test(credentials.clientId))
    throw new InvalidRequestError('Invalid parameter: `client_id`');
  if ('secret' in credentials && credentials.secret !== undefined && !VSCHAR.test(credentials.secret))
    throw new InvalidRequestError('Invalid parameter: `client_secret`');
  let client: ClientRecord | null;
  try {
    // The endpoint's own URL (issuer + path) is an audience an assertion may name.
    client = await clients.authenticate('assertion' in credentials ? { ...credentials, endpoint: request.routeOptions.url } : credentials);
  } catch (error) {
    if (error instanceof ClientAssertionError) throw new InvalidClientError(`Invalid client: ${error.message}`);
    throw error;
  }
  if (!client) throw new InvalidClientError('Invalid client: client authentication failed');
  return client;
}
