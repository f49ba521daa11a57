// JSON schemas of the admin API: they validate every request (unknown fields refused, lengths
// bounded) and, through @fastify/swagger, make the admin OpenAPI document. The shapes are those
// of src/admin/api.ts.
import { DEFAULT_PAGE, MAX_PAGE } from '../../admin/api.js';
import { MAX_DUMP_BYTES } from '../../domain/django-import.js';

const text = (maxLength: number, extra: object = {}) => ({ type: 'string', minLength: 1, maxLength, ...extra }) as const;
const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });
const list = (items: object, maxItems = 100) => ({ type: 'array', items, maxItems }) as const;
const seconds = { type: 'integer', minimum: 1, maximum: 366 * 86_400 } as const;
const timestamp = { type: 'string', description: 'RFC 3339 date and time (UTC)' } as const;

/** A JWK Set (RFC 7517 §5); its keys are checked by the domain (src/domain/client-keys.ts). */
const jwkSet = {
  type: 'object',
  required: ['keys'],
  properties: { keys: { type: 'array', maxItems: 20, items: { type: 'object', additionalProperties: true } } },
  additionalProperties: true,
} as const;

const clientSettings = {
  name: text(200),
  public: { type: 'boolean', description: 'a public client (no secret, no keys)' },
  grants: list(text(64)),
  scopes: list(text(200), 200),
  token_format: { type: 'string', enum: ['opaque', 'jwt'] },
  access_ttl: seconds,
  refresh_ttl: seconds,
  max_session: seconds,
  audience: nullable(text(500)),
  redirect_uris: list(text(2000)),
  post_logout_redirect_uris: list(text(2000), 20),
  origins: list(text(500)),
  introspect: { type: 'boolean' },
  consent: { type: 'boolean', description: 'third-party: users approve its scopes on a consent page, once' },
  browser: { type: 'boolean' },
  admin: { type: 'boolean', description: 'may ask for the scope tessera:admin (the admin API)' },
  jwks: nullable(jwkSet),
  jwks_uri: nullable(text(2000)),
} as const;

export const clientCreateBody = { type: 'object', required: ['name'], properties: clientSettings, additionalProperties: false } as const;
export const clientPatchBody = { type: 'object', properties: clientSettings, additionalProperties: false, minProperties: 1 } as const;

export const clientView = {
  type: 'object',
  properties: {
    client_id: { type: 'string' },
    name: { type: 'string' },
    type: { type: 'string', enum: ['public', 'confidential'] },
    token_endpoint_auth_method: { type: 'string', enum: ['client_secret_basic', 'private_key_jwt', 'none'] },
    grants: { type: 'array', items: { type: 'string' } },
    scopes: { type: 'array', items: { type: 'string' } },
    token_format: { type: 'string', enum: ['opaque', 'jwt'] },
    access_ttl: { type: 'integer' },
    refresh_ttl: { type: 'integer' },
    max_session: { type: 'integer' },
    audience: { type: ['string', 'null'] },
    redirect_uris: { type: 'array', items: { type: 'string' } },
    post_logout_redirect_uris: {
      type: 'array',
      items: { type: 'string' },
      description: 'where /logout may send the browser back (OpenID Connect RP-Initiated Logout), compared exactly',
    },
    origins: { type: 'array', items: { type: 'string' } },
    introspect: { type: 'boolean' },
    consent: { type: 'boolean' },
    browser: { type: 'boolean' },
    admin: { type: 'boolean' },
    jwks: { type: ['object', 'null'], additionalProperties: true },
    jwks_uri: { type: ['string', 'null'] },
    secret_must_rotate: {
      type: 'boolean',
      description: 'imported with a secret that could not be carried over (a hashed one): it authenticates only after a rotation',
    },
    previous_secret_expires_at: { type: ['string', 'null'] },
    tokens_valid_after: { type: ['string', 'null'] },
    created_at: timestamp,
    updated_at: timestamp,
    client_secret: { type: 'string', description: 'present once: when the client was created or got a secret by this change' },
  },
  required: ['client_id', 'name', 'type', 'grants', 'scopes', 'created_at'],
} as const;

export const secretRotationBody = {
  type: 'object',
  properties: { grace_seconds: { type: 'integer', minimum: 0, maximum: 7 * 86_400, description: 'how long the old secret keeps working' } },
  additionalProperties: false,
} as const;

export const secretRotation = {
  type: 'object',
  properties: {
    client_id: { type: 'string' },
    client_secret: { type: 'string' },
    previous_secret_expires_at: { type: ['string', 'null'] },
  },
  required: ['client_id', 'client_secret', 'previous_secret_expires_at'],
} as const;

const labels = list(text(100));
const userProfile = {
  email: nullable(text(320)),
  name: nullable(text(200)),
  email_verified: { type: 'boolean' },
  roles: labels,
  groups: labels,
} as const;
const password = { type: 'string', minLength: 1, maxLength: 1024 } as const;

export const userCreateBody = {
  type: 'object',
  required: ['username', 'password'],
  properties: { username: text(128), password, ...userProfile },
  additionalProperties: false,
} as const;

export const userPatchBody = {
  type: 'object',
  properties: { ...userProfile, active: { type: 'boolean' }, password },
  additionalProperties: false,
  minProperties: 1,
} as const;

export const userView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    email: { type: ['string', 'null'] },
    name: { type: ['string', 'null'] },
    email_verified: { type: 'boolean' },
    active: { type: 'boolean' },
    roles: { type: 'array', items: { type: 'string' } },
    groups: { type: 'array', items: { type: 'string' } },
    created_at: timestamp,
    updated_at: timestamp,
  },
  required: ['id', 'username', 'active', 'roles', 'groups', 'created_at'],
} as const;

export const consentView = {
  type: 'object',
  properties: {
    client_id: { type: 'string' },
    client_name: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' }, description: 'every scope approved so far: the approval covers any subset' },
    created_at: timestamp,
    updated_at: { ...timestamp, description: 'when scopes were last approved' },
  },
  required: ['client_id', 'client_name', 'scopes', 'created_at', 'updated_at'],
} as const;

const oneOf = (name: string, schema: object) => ({
  type: 'object',
  required: [name],
  properties: { [name]: schema },
  additionalProperties: false,
});

export const revokeBody = {
  type: 'object',
  oneOf: [oneOf('token', text(8192)), oneOf('user', text(128)), oneOf('client_id', text(128))],
} as const;

export const revokeResult = {
  type: 'object',
  properties: {
    revoked: { type: 'string', enum: ['token', 'user', 'client'] },
    found: { type: 'boolean' },
    user: { type: 'string' },
    client_id: { type: 'string' },
  },
  required: ['revoked', 'found'],
} as const;

export const tokenCreateBody = {
  type: 'object',
  required: ['user', 'client_id'],
  properties: { user: text(128), client_id: text(128), scopes: list(text(200), 200), ttl: seconds },
  additionalProperties: false,
} as const;

export const issuedToken = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string', enum: ['Bearer'] },
    expires_in: { type: 'integer' },
    scope: { type: 'string' },
    client_id: { type: 'string' },
    username: { type: 'string' },
  },
  required: ['access_token', 'token_type', 'expires_in', 'scope', 'client_id', 'username'],
} as const;

export const pruneCounts = { type: 'object', additionalProperties: { type: 'integer' } } as const;

export const keyView = {
  type: 'object',
  properties: {
    kid: { type: 'string' },
    alg: { type: 'string' },
    status: { type: 'string', enum: ['signing', 'retired'] },
    created_at: timestamp,
    published_until: { type: ['string', 'null'] },
  },
  required: ['kid', 'alg', 'status', 'created_at', 'published_until'],
} as const;

export const keyRevoked = {
  type: 'object',
  properties: { kid: { type: 'string' }, revoked: { type: 'boolean', enum: [true] } },
  required: ['kid', 'revoked'],
} as const;

export const registrationTokenBody = {
  type: 'object',
  properties: {
    ttl: { ...seconds, description: 'lifetime in seconds (default 86400)' },
    max_uses: { anyOf: [{ type: 'integer', minimum: 1, maximum: 1_000_000 }, { type: 'null' }] },
  },
  additionalProperties: false,
} as const;

export const registrationTokenView = {
  type: 'object',
  properties: {
    initial_access_token: { type: 'string' },
    expires_at: timestamp,
    max_uses: { type: ['integer', 'null'] },
  },
  required: ['initial_access_token', 'expires_at', 'max_uses'],
} as const;

export const auditView = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: timestamp,
    actor: { type: 'string' },
    action: { type: 'string' },
    target: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
  },
  required: ['id', 'at', 'actor', 'action', 'target', 'details'],
} as const;

export const pageQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
    cursor: { type: 'string', minLength: 1, maxLength: 512 },
  },
  additionalProperties: false,
} as const;

export function page(items: object) {
  return {
    type: 'object',
    properties: { items: { type: 'array', items }, next_cursor: { type: ['string', 'null'] } },
    required: ['items', 'next_cursor'],
  } as const;
}

export const problem = {
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
  },
  required: ['type', 'title', 'status'],
} as const;

const problemContent = { content: { 'application/problem+json': { schema: problem } } } as const;

/** The error answers every admin route may give, for the OpenAPI document. */
export const problems = {
  400: { description: 'the request is invalid (RFC 9457 problem details)', ...problemContent },
  401: { description: 'no active admin access token', ...problemContent },
  403: { description: 'the token lacks tessera:admin, or is not from client_credentials of an admin client', ...problemContent },
  404: { description: 'no such client, user or key', ...problemContent },
  503: { description: 'the database is unavailable: try again shortly', ...problemContent },
} as const;

export const idParam = (name: string) =>
  ({ type: 'object', required: [name], properties: { [name]: text(128) }, additionalProperties: false }) as const;

/** A user's approval of one client: /users/{user}/consents/{client_id}. */
export const consentParams = {
  type: 'object',
  required: ['user', 'client_id'],
  properties: { user: text(128), client_id: text(128) },
  additionalProperties: false,
} as const;

const importCounts = {
  type: 'object',
  properties: {
    created: { type: 'integer' },
    unchanged: { type: 'integer', description: 'brought over by an earlier import: left as it is' },
  },
  required: ['created', 'unchanged'],
} as const;

const dumpProblem = {
  type: 'object',
  properties: {
    line: { type: 'integer', description: 'the line of the dump where the record starts' },
    record: { type: ['integer', 'null'], description: "the record's 1-based position in the dump; null for the dump as a whole" },
    model: { type: ['string', 'null'] },
    pk: { type: ['string', 'integer', 'null'], description: "the record's pk (a DRF key shortened to its first 8 characters)" },
    message: { type: 'string' },
  },
  required: ['line', 'record', 'model', 'pk', 'message'],
} as const;

export const djangoImportBody = {
  type: 'object',
  properties: {
    dump: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_DUMP_BYTES,
      description: 'the text of what `manage.py dumpdata auth.user authtoken.token oauth2_provider.application` wrote',
    },
    token_client: text(128, { description: 'the client the DRF tokens become access tokens of (needed when the dump holds tokens)' }),
    dry_run: { type: 'boolean', description: 'check and count, write nothing' },
  },
  required: ['dump'],
  additionalProperties: false,
} as const;

export const djangoImportView = {
  type: 'object',
  properties: {
    dry_run: { type: 'boolean' },
    users: importCounts,
    tokens: importCounts,
    clients: importCounts,
    clients_to_rotate: {
      type: 'array',
      items: { type: 'string' },
      description: 'imported with a hashed secret: they authenticate only after a secret rotation',
    },
    warnings: { type: 'array', items: dumpProblem },
  },
  required: ['dry_run', 'users', 'tokens', 'clients', 'clients_to_rotate', 'warnings'],
} as const;

/** A dump that cannot be imported: the problem details, with every problem found. */
export const dumpProblems = {
  description: 'the dump cannot be imported, and nothing was written: `problems` lists why, record by record',
  content: {
    'application/problem+json': {
      schema: { ...problem, properties: { ...problem.properties, problems: { type: 'array', items: dumpProblem } } },
    },
  },
} as const;
