// RFC 7591 client metadata ⇄ the domain's ClientRegistration, for dynamic registration (POST
// /register) and its management (RFC 7592, /register/{client_id}): the JSON schemas of the
// requests and answers, the mapping each way, and the refusals in the RFC's words. The rules
// themselves are the domain's (src/domain/clients.ts): a dynamically registered client is checked
// exactly as `client create` checks one.
import { ADMIN_SCOPE, authMethod, RedirectUriError, type ClientRegistration } from '../domain/clients.js';
import { AdminError } from '../domain/errors.js';
import type { ClientRecord } from '../records.js';
import { GRANTS } from './grants/index.js';
import { formatScope, parseScope } from '../domain/scopes.js';

/** RFC 7591 §2 token_endpoint_auth_method: the ones Tessera has (client_secret_jwt is not: no symmetric assertions). */
export const REGISTRATION_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type RegistrationAuthMethod = (typeof REGISTRATION_AUTH_METHODS)[number];

/** The metadata Tessera reads (RFC 7591 §2); any other member is ignored, as §2 asks. JSON null counts as absent. */
export interface ClientMetadata {
  redirect_uris?: string[] | null;
  /** OpenID Connect RP-Initiated Logout §3.1: where /logout may send the browser back. */
  post_logout_redirect_uris?: string[] | null;
  token_endpoint_auth_method?: RegistrationAuthMethod | null;
  grant_types?: string[] | null;
  response_types?: string[] | null;
  client_name?: string | null;
  scope?: string | null;
  jwks?: { keys: Record<string, unknown>[] } | null;
  jwks_uri?: string | null;
}

/** The metadata fields above, by name: what the audit log records of a registration or an update. */
export const METADATA_FIELDS = [
  'redirect_uris',
  'post_logout_redirect_uris',
  'token_endpoint_auth_method',
  'grant_types',
  'response_types',
  'client_name',
  'scope',
  'jwks',
  'jwks_uri',
] as const;

/** RFC 7592 §2.2: an update names the client, and may repeat its secret (which must then be the client's). */
export interface ClientUpdateMetadata extends ClientMetadata {
  client_id: string;
  client_secret?: string | null;
}

/** What a client without `client_name` is called (the domain needs a name; the answer shows this one). */
export const DEFAULT_CLIENT_NAME = 'dynamically registered client';

// ── Schemas (they validate the requests, and @fastify/swagger makes the OpenAPI document of them) ──

const orNull = (type: string) => [type, 'null'];
const uri = { type: 'string', minLength: 1, maxLength: 2000 } as const;

const metadataProperties = {
  redirect_uris: { type: orNull('array'), items: uri, maxItems: 20, description: 'https, or http on a loopback host (RFC 8252)' },
  post_logout_redirect_uris: {
    type: orNull('array'),
    items: uri,
    maxItems: 20,
    description: 'where /logout may send the browser back (OpenID Connect RP-Initiated Logout §3.1); the same rules as redirect_uris',
  },
  token_endpoint_auth_method: {
    type: orNull('string'),
    enum: [...REGISTRATION_AUTH_METHODS, null],
    description: 'client_secret_basic (the default), client_secret_post, private_key_jwt (with jwks or jwks_uri) or none (a public client)',
  },
  grant_types: { type: orNull('array'), items: { type: 'string', enum: GRANTS.map((grant) => grant.name) }, maxItems: 10 },
  response_types: { type: orNull('array'), items: { type: 'string', enum: ['code'] }, maxItems: 5 },
  client_name: { type: orNull('string'), minLength: 1, maxLength: 200 },
  scope: { type: orNull('string'), maxLength: 4000, description: 'space-separated scope values the client may ask for' },
  jwks: {
    type: orNull('object'),
    required: ['keys'],
    properties: { keys: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'object' } } },
    description: 'the public keys of private_key_jwt (RFC 7517 JWK Set); not with jwks_uri',
  },
  jwks_uri: { ...uri, type: orNull('string'), description: 'where the client publishes its JWK Set (https); not with jwks' },
} as const;

/** POST /register: the client metadata; unknown members are allowed, and ignored. */
export const registrationRequestSchema = {
  type: 'object',
  properties: metadataProperties,
  additionalProperties: true,
} as const;

/** PUT /register/{client_id}: the whole metadata again, with the client's id. */
export const updateRequestSchema = {
  type: 'object',
  required: ['client_id'],
  properties: {
    client_id: { type: 'string', minLength: 1, maxLength: 128 },
    client_secret: { type: orNull('string'), maxLength: 512, description: 'if sent, it must be the client’s current secret' },
    ...metadataProperties,
  },
  additionalProperties: true,
} as const;

const strings = { type: 'array', items: { type: 'string' } } as const;

/** RFC 7591 §3.2.1 / RFC 7592 §3: the client information response. */
export const clientInformationSchema = {
  type: 'object',
  properties: {
    client_id: { type: 'string' },
    client_secret: { type: 'string', description: 'present once: when a secret was issued by this request' },
    client_id_issued_at: { type: 'integer' },
    client_secret_expires_at: { type: 'integer', description: '0: the secret does not expire' },
    registration_access_token: { type: 'string', description: 'the bearer token for /register/{client_id} (RFC 7592)' },
    registration_client_uri: { type: 'string' },
    client_name: { type: 'string' },
    token_endpoint_auth_method: { type: 'string', enum: [...REGISTRATION_AUTH_METHODS] },
    grant_types: strings,
    response_types: strings,
    redirect_uris: strings,
    post_logout_redirect_uris: strings,
    scope: { type: 'string' },
    jwks: { type: 'object', additionalProperties: true },
    jwks_uri: { type: 'string' },
  },
  required: [
    'client_id',
    'client_id_issued_at',
    'registration_access_token',
    'registration_client_uri',
    'client_name',
    'token_endpoint_auth_method',
    'grant_types',
    'response_types',
    'redirect_uris',
  ],
} as const;

// ── Refusals ──────────────────────────────────────────────────────────────────────────────────

/** RFC 7591 §3.2.2's error codes (and invalid_request for a request that is not metadata at all). */
export type RegistrationErrorCode = 'invalid_client_metadata' | 'invalid_redirect_uri' | 'invalid_request';

/** A registration or update refused: 400 with the code and a description. */
export class RegistrationError extends Error {
  constructor(
    readonly error: RegistrationErrorCode,
    description: string,
  ) {
    super(description);
  }
}

const invalidMetadata = (description: string) => new RegistrationError('invalid_client_metadata', description);

/** The domain says what it refuses in the admin command's words: here they are the metadata's. */
const IN_METADATA_TERMS: [RegExp, string][] = [
  [/--jwks-uri\b/g, 'jwks_uri'],
  [/--jwks\b/g, 'jwks'],
  [/--redirect-uri\b/g, 'redirect_uris'],
  [/--post-logout-redirect-uri\b/g, 'post_logout_redirect_uris'],
  [/--name\b/g, 'client_name'],
  [/--scope\b/g, 'scope'],
  [/--grant\b/g, 'grant_types'],
];

/** The refusal an error of the domain means, or null for any other error (a fault, not a refusal). */
export function refusalOf(error: unknown): RegistrationError | null {
  if (error instanceof RegistrationError) return error;
  if (!(error instanceof AdminError)) return null;
  const description = IN_METADATA_TERMS.reduce((text, [flag, name]) => text.replace(flag, name), error.message);
  return new RegistrationError(error instanceof RedirectUriError ? 'invalid_redirect_uri' : 'invalid_client_metadata', description);
}

/** A schema failure (Ajv's first error, as Fastify attaches it) as a refusal naming the member. */
export function schemaRefusal(error: { validation?: unknown; message: string }): RegistrationError {
  const [first] = (Array.isArray(error.validation) ? error.validation : []) as {
    instancePath?: string;
    keyword?: string;
    message?: string;
    params?: Record<string, unknown>;
  }[];
  if (!first) return new RegistrationError('invalid_request', `Invalid request: ${error.message}`);
  const path = first.instancePath ?? '';
  const member = path.split('/')[1] ?? '';
  const field = path === '' ? 'the body' : path.slice(1).replaceAll('/', '.');
  const allowed = Array.isArray(first.params?.allowedValues) ? ` (${first.params.allowedValues.filter((v) => v !== null).join(', ')})` : '';
  const missing = typeof first.params?.missingProperty === 'string' ? first.params.missingProperty : '';
  const named = missing === '' ? field : path === '' ? missing : `${field}.${missing}`;
  const description = `${named} ${missing ? 'is missing' : (first.message ?? 'is invalid')}${allowed}`;
  // Not metadata at all (not an object), or the update's client_id/client_secret: a malformed request.
  const request = path === '' ? missing === 'client_id' || missing === '' : member === 'client_id' || member === 'client_secret';
  return new RegistrationError(
    request ? 'invalid_request' : 'invalid_client_metadata',
    `Invalid ${request ? 'request' : 'client metadata'}: ${description}`,
  );
}

// ── Metadata → registration ───────────────────────────────────────────────────────────────────

/** The settings the metadata decides, and the method the client asked to authenticate with. */
export interface MappedRegistration {
  /**
   * Every setting RFC 7591 metadata governs, each given explicitly (so that an update replaces
   * them all, RFC 7592 §2.2); the rest of a client's settings (token format, lifetimes, audience,
   * origins, introspection, admin, consent) are the operator's and never come from here. (A client
   * registered here starts third-party, with `consent`: Clients.register decides that.)
   */
  registration: ClientRegistration;
  authMethod: RegistrationAuthMethod;
}

/**
 * The registration the metadata asks for; a RegistrationError for what the domain cannot judge
 * alone (the RFC's own consistency rules). The domain's rules are checked afterwards, by the domain.
 */
export function registrationOf(metadata: ClientMetadata): MappedRegistration {
  const keys = metadata.jwks != null || metadata.jwks_uri != null;
  // RFC 7591 §2: the default is client_secret_basic; a client that registers keys and names no
  // method is taken to mean private_key_jwt (in Tessera a client's keys are for that alone).
  const method = metadata.token_endpoint_auth_method ?? (keys ? 'private_key_jwt' : 'client_secret_basic');
  if (metadata.jwks != null && metadata.jwks_uri != null) throw invalidMetadata('Invalid client metadata: send jwks or jwks_uri, not both');
  // The server fetches a jwks_uri from where it runs: registered by anyone holding an initial access
  // token, it would let them probe the server's own network. An operator may still set one (admin API).
  if (metadata.jwks_uri != null)
    throw invalidMetadata('Invalid client metadata: jwks_uri cannot be registered dynamically: send the keys inline in jwks');
  if (method === 'private_key_jwt' && !keys) throw invalidMetadata('Invalid client metadata: private_key_jwt needs jwks or jwks_uri');
  if (method === 'none' && keys)
    throw invalidMetadata('Invalid client metadata: a public client (token_endpoint_auth_method none) registers no keys');
  if ((method === 'client_secret_basic' || method === 'client_secret_post') && keys)
    throw invalidMetadata(`Invalid client metadata: a client that authenticates with ${method} registers no keys (jwks, jwks_uri)`);

  const isPublic = method === 'none';
  const redirectUris = metadata.redirect_uris ?? [];
  const responseTypes = metadata.response_types ?? null;
  // RFC 7591 §2: no grant_types means authorization_code. Tessera's default for a confidential
  // client is client_credentials (the contract), so authorization_code is taken when the client
  // shows it means the code flow (redirect URIs, or response_types code), or is public.
  const grants = metadata.grant_types?.length
    ? metadata.grant_types
    : isPublic || redirectUris.length > 0 || responseTypes?.includes('code')
      ? ['authorization_code']
      : ['client_credentials'];
  // RFC 7591 §2.1: the code response type goes with the authorization_code grant, both ways.
  if (responseTypes !== null && responseTypes.includes('code') !== grants.includes('authorization_code'))
    throw invalidMetadata(
      'Invalid client metadata: response_types ["code"] goes with grant_types authorization_code, and authorization_code with response_types ["code"]',
    );
  // RFC 9700 §2.4: the password grant must not be used; an operator may still allow it to a client.
  if (grants.includes('password')) throw invalidMetadata('Invalid client metadata: the password grant cannot be registered dynamically');
  const scopes = parseScope(metadata.scope ?? '');
  if (scopes.includes(ADMIN_SCOPE))
    throw invalidMetadata(`Invalid client metadata: the scope ${ADMIN_SCOPE} cannot be registered dynamically`);
  return {
    registration: {
      name: metadata.client_name ?? DEFAULT_CLIENT_NAME,
      public: isPublic,
      grants,
      scopes,
      redirectUris,
      postLogoutRedirectUris: metadata.post_logout_redirect_uris ?? [],
      jwks: metadata.jwks == null ? null : JSON.stringify(metadata.jwks),
      jwksUri: metadata.jwks_uri ?? null,
    },
    authMethod: method,
  };
}

/** The metadata members a request set (for the audit log: names only, never values). */
export function metadataFieldsOf(metadata: ClientMetadata): string[] {
  return METADATA_FIELDS.filter((name) => metadata[name] != null);
}

// ── Client → metadata ────────────────────────────────────────────────────────────────────────

/**
 * The client's registered metadata (RFC 7591 §3.2.1). `asked` is the method the request asked
 * for: Tessera keeps no preference between client_secret_basic and client_secret_post (every
 * client with a secret may use either), so an answer to a request repeats the one asked for, and
 * a read (GET) says client_secret_basic.
 */
export function metadataOf(client: ClientRecord, asked?: RegistrationAuthMethod) {
  const method = authMethod(client);
  // The admin scope comes with `admin` (an operator's setting), not from metadata: not shown, so
  // that the metadata can be sent back unchanged in an update.
  const scopes = client.scopes.filter((scope) => scope !== ADMIN_SCOPE);
  return {
    client_id: client.id,
    client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
    ...(client.secretDigest !== null ? { client_secret_expires_at: 0 } : {}),
    client_name: client.name,
    token_endpoint_auth_method: method === 'client_secret_basic' && asked === 'client_secret_post' ? asked : method,
    grant_types: client.grants,
    response_types: client.grants.includes('authorization_code') ? ['code'] : [],
    redirect_uris: client.redirectUris,
    ...(client.postLogoutRedirectUris.length > 0 ? { post_logout_redirect_uris: client.postLogoutRedirectUris } : {}),
    ...(scopes.length > 0 ? { scope: formatScope(scopes) } : {}),
    ...(client.jwks !== null ? { jwks: client.jwks } : {}),
    ...(client.jwksUri !== null ? { jwks_uri: client.jwksUri } : {}),
  };
}
