// GET /.well-known/oauth-authorization-server — RFC 8414 server metadata.
import type { FastifyInstance } from 'fastify';
import { ASSERTION_ALGORITHMS } from '../domain/client-keys.js';
import type { Clients } from '../domain/clients.js';
import { GRANTS } from '../oauth/grants/index.js';
import type { ClientRecord } from '../records.js';
import { documentationOnly } from './route-docs.js';

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
    // RFC 7591 §3, RFC 8414 §2: registration needs an initial access token (`tessera client registration-token create`).
    registration_endpoint: `${issuer}/register`,
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

const strings = (description: string) => ({ type: 'array', items: { type: 'string' }, description });
const url = (description: string) => ({ type: 'string', description });

/**
 * The document's members, for /openapi.json. fast-json-stringify drops what a schema does not
 * list, so the schema allows more (`additionalProperties`): a member added above is never lost.
 */
const metadataSchema = {
  description: 'RFC 8414 authorization server metadata',
  type: 'object',
  properties: {
    issuer: url('the issuer: the URL clients must reach the server under'),
    authorization_endpoint: url('GET /authorize'),
    token_endpoint: url('POST /token'),
    introspection_endpoint: url('POST /introspect'),
    revocation_endpoint: url('POST /revoke'),
    registration_endpoint: url('POST /register (RFC 7591), with an initial access token'),
    jwks_uri: url('GET /.well-known/jwks.json'),
    grant_types_supported: strings('every grant, except a deprecated one (password) that no client is registered for'),
    response_types_supported: strings('code'),
    response_modes_supported: strings('query'),
    token_endpoint_auth_methods_supported: strings('client_secret_basic, client_secret_post, private_key_jwt, none'),
    token_endpoint_auth_signing_alg_values_supported: strings('the algorithms a client assertion may be signed with'),
    introspection_endpoint_auth_methods_supported: strings('client_secret_basic, client_secret_post, private_key_jwt'),
    introspection_endpoint_auth_signing_alg_values_supported: strings('the algorithms a client assertion may be signed with'),
    revocation_endpoint_auth_methods_supported: strings('client_secret_basic, client_secret_post, private_key_jwt, none'),
    revocation_endpoint_auth_signing_alg_values_supported: strings('the algorithms a client assertion may be signed with'),
    code_challenge_methods_supported: strings('S256'),
    authorization_response_iss_parameter_supported: { type: 'boolean', description: 'RFC 9207: `iss` is in every authorization response' },
    scopes_supported: strings('every scope some registered client may ask for, sorted'),
  },
  additionalProperties: true,
  headers: { 'Cache-Control': { type: 'string', description: 'public, max-age=60' } },
} as const;

const schema = {
  tags: ['meta'],
  summary: 'Authorization server metadata (RFC 8414)',
  description: 'Unauthenticated. Built once, and again only when a client changes.',
  security: [],
  response: { 200: metadataSchema },
};

export function metadataRoute(app: FastifyInstance, { clients, issuer }: { clients: Pick<Clients, 'derive'>; issuer: string }): void {
  // Anyone may ask, unauthenticated: the document is built once and again only when a client
  // changes, never per request.
  const current = clients.derive((registered) => metadataDocument(issuer, registered));
  // documentationOnly: nothing to validate; the schema documents (src/http/route-docs.ts).
  app.get('/.well-known/oauth-authorization-server', { schema, ...documentationOnly }, async (_request, reply) =>
    reply.header('Cache-Control', 'public, max-age=60').send(await current()),
  );
}
