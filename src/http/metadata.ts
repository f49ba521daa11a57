// GET /.well-known/oauth-authorization-server — RFC 8414 server metadata.
import type { FastifyInstance } from 'fastify';
import { ASSERTION_ALGORITHMS } from '../domain/client-keys.js';
import type { Clients } from '../domain/clients.js';
import { GRANTS } from '../oauth/grants/index.js';
import type { ClientRecord } from '../records.js';

/** What every endpoint that authenticates clients takes (http/client-auth.ts); some also take `none`. */
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

function metadataDocument(issuer: string, registered: readonly ClientRecord[]) {
  const scopes = new Set(registered.flatMap((c) => c.scopes));
  // A deprecated grant is advertised only while some client is registered for it.
  const grants = GRANTS.filter((grant) => !grant.rules.deprecated || registered.some((c) => c.grants.includes(grant.name))).map(
    (grant) => grant.name,
  );
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    introspection_endpoint: `${issuer}/introspect`,
    revocation_endpoint: `${issuer}/revoke`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: grants,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS, 'none'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS, 'none'],
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    scopes_supported: [...scopes].sort(),
  };
}

export function metadataRoute(app: FastifyInstance, { clients, issuer }: { clients: Pick<Clients, 'derive'>; issuer: string }): void {
  // Anyone may ask, unauthenticated: the document is built once and again only when a client
  // changes, never per request.
  const current = clients.derive((registered) => metadataDocument(issuer, registered));
  app.get('/.well-known/oauth-authorization-server', async (_request, reply) =>
    reply.header('Cache-Control', 'public, max-age=60').send(await current()),
  );
}
