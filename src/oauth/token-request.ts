// A token request (RFC 6749 §3.2) once its client is authenticated: which grant it asks for, and
// whether this client may use it. The grant's own handler (grants/) does the rest.
import { isPublicClient } from '../domain/clients.js';
import type { ClientRecord } from '../records.js';
import { InvalidClientError, InvalidRequestError, UnauthorizedClientError, UnsupportedGrantTypeError } from './errors.js';
import type { GrantType } from './grants/grant.js';
import { findGrant } from './grants/index.js';
import { CLIENT_AUTH_PARAMETERS } from './syntax.js';

/** The token endpoint's own parameters, client authentication's among them; each grant adds its own (GrantType.parameters). */
export const TOKEN_PARAMETERS = ['grant_type', ...CLIENT_AUTH_PARAMETERS] as const;

/** grant_type is a name (NCHAR) or an absolute URI (RFC 6749 §4.5). */
const GRANT_TYPE = /^(?:[\w.-]+|[a-zA-Z][a-zA-Z0-9+.-]+:.*)$/;

export function grantFor(client: ClientRecord, grantType: string | undefined): GrantType {
  if (grantType === undefined) throw new InvalidRequestError('Missing parameter: `grant_type`');
  if (!GRANT_TYPE.test(grantType)) throw new InvalidRequestError('Invalid parameter: `grant_type`');
  const grant = findGrant(grantType);
  if (!grant) throw new UnsupportedGrantTypeError('Unsupported grant type: `grant_type` is invalid');
  // A public client cannot prove who it is, so a grant that trusts the client alone refuses it.
  if (isPublicClient(client) && !grant.rules.publicClientAllowed)
    throw new InvalidClientError('Invalid client: this grant needs client authentication');
  if (!client.grants.includes(grant.name)) throw new UnauthorizedClientError('Unauthorized client: `grant_type` is invalid');
  return grant;
}
