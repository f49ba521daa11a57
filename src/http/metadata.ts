// GET /.well-known/oauth-authorization-server and /.well-known/openid-configuration — RFC 8414
// server metadata and OpenID Connect Discovery 1.0 §3: one document, served at both.
import type { FastifyInstance } from 'fastify';
import { ASSERTION_ALGORITHMS } from '../domain/client-keys.js';
import type { Clients } from '../domain/clients.js';
import { GRANTS } from '../oauth/grants/index.js';
import type { ClientRecord } from '../records.js';
import { OPENID_SCOPE } from '../tokens/id-token.js';
import { SIGNING_ALG } from '../tokens/keys.js';
import { documentationOnly } from './route-docs.js';

/** What every endpoint that authenticates clients takes (http/client-auth.ts); some also take `none`. */
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

/** Every claim an ID token (src/tokens/id-token.ts) or /userinfo (src/http/userinfo.ts) may hold. */
const CLAIMS = [
  'iss',
  'sub',
  'aud',
  'azp',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'at_hash',
  'sid',
  'preferred_username',
  'name',
  'email',
  'email_verified',
  'roles',
  'groups',
];

function metadataDocument(issuer: string, registered: readonly ClientRecord[]) {
  // `openid` always: a client registered for it may ask for it (Discovery 1.0 §3 requires it listed).
  const scopes = new Set([OPENID_SCOPE, ...registered.flatMap((c) => c.scopes)]);
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
    userinfo_endpoint: `${issuer}/userinfo`,
    end_session_endpoint: `${issuer}/logout`,
    // RFC 7591 §3, RFC 8414 §2: registration needs an initial access token (`tessera client registration-token create`).
    registration_endpoint: `${issuer}/register`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: grants,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [SIGNING_ALG],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS, 'none'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS, 'none'],
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    scopes_supported: [...scopes].sort(),
    claims_supported: CLAIMS,
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    // Discovery 1.0 §3: request_uri_parameter_supported defaults to true, so each is said outright.
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
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
    userinfo_endpoint: url('GET or POST /userinfo (OpenID Connect Core §5.3)'),
    end_session_endpoint: url('GET /logout (OpenID Connect RP-Initiated Logout 1.0)'),
    registration_endpoint: url('POST /register (RFC 7591), with an initial access token'),
    jwks_uri: url('GET /.well-known/jwks.json'),
    grant_types_supported: strings('every grant, except a deprecated one (password) that no client is registered for'),
    response_types_supported: strings('code'),
    response_modes_supported: strings('query'),
    subject_types_supported: strings("public: `sub` is the user's id, the same for every client"),
    id_token_signing_alg_values_supported: strings('ES256'),
    token_endpoint_auth_methods_supported: strings('client_secret_basic, client_secret_post, private_key_jwt, none'),
    token_endpoint_auth_signing_alg_values_supported: strings('the algorithms a client assertion may be signed with'),
    introspection_endpoint_auth_methods_supported: strings('client_secret_basic, client_secret_post, private_key_jwt'),
    introspection_endpoint_auth_signing_alg_values_supported: strings('the algorithms a client assertion may be signed with'),
    revocation_endpoint_auth_methods_supported: strings('client_secret_basic, client_secret_post, private_key_jwt, none'),
    revocation_endpoint_auth_signing_alg_values_supported: strings('the algorithms a client assertion may be signed with'),
    code_challenge_methods_supported: strings('S256'),
    authorization_response_iss_parameter_supported: { type: 'boolean', description: 'RFC 9207: `iss` is in every authorization response' },
    scopes_supported: strings('`openid` and every scope some registered client may ask for, sorted'),
    claims_supported: strings('the claims of ID tokens and /userinfo'),
    prompt_values_supported: strings('none, login, consent, select_account'),
    claims_parameter_supported: { type: 'boolean', description: 'false: the `claims` request parameter is not supported' },
    request_parameter_supported: { type: 'boolean', description: 'false: request objects are not supported' },
    request_uri_parameter_supported: { type: 'boolean', description: 'false: request_uri is not supported' },
  },
  additionalProperties: true,
  headers: { 'Cache-Control': { type: 'string', description: 'public, max-age=60' } },
} as const;

const schemaOf = (summary: string) => ({
  tags: ['meta'],
  summary,
  description:
    'Unauthenticated. One document at both addresses (RFC 8414 and OpenID Connect Discovery 1.0). Built once, and again only when a client changes.',
  security: [],
  response: { 200: metadataSchema },
});

/** The two addresses of the document, and what each is called in /openapi.json. */
const ADDRESSES = {
  '/.well-known/oauth-authorization-server': 'Authorization server metadata (RFC 8414)',
  '/.well-known/openid-configuration': 'OpenID Connect Discovery 1.0: the same document',
};

export function metadataRoute(app: FastifyInstance, { clients, issuer }: { clients: Pick<Clients, 'derive'>; issuer: string }): void {
  // Anyone may ask, unauthenticated: the document is built once and again only when a client
  // changes, never per request.
  const current = clients.derive((registered) => metadataDocument(issuer, registered));
  for (const [path, summary] of Object.entries(ADDRESSES)) {
    // documentationOnly: nothing to validate; the schema documents (src/http/route-docs.ts).
    app.get(path, { schema: schemaOf(summary), ...documentationOnly }, async (_request, reply) =>
      reply.header('Cache-Control', 'public, max-age=60').send(await current()),
    );
  }
}
