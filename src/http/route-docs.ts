// The schemas of the public endpoints are documentation: @fastify/swagger makes /openapi.json of
// them, and nothing else reads them. These endpoints read their input themselves, strictly and
// with the RFC's error codes (src/http/params.ts, form.ts, client-auth.ts): a parameter sent
// twice, a JSON number where a string belongs or broken percent-encoding is `invalid_request`.
// Fastify's validator would instead coerce ("1" to 1, a lone value to an array), drop or refuse
// fields with its own error shape, and add its cost to the hot paths (/token, /token/verify,
// /introspect). So every route here is registered with `documentationOnly`, and its request
// schemas (body, querystring, headers) are never compiled into a check.
//
// Response schemas are another matter: Fastify serializes a JSON answer with fast-json-stringify
// when its status has a schema, and that drops every property the schema does not list. A response
// schema here therefore lists every property the endpoint can send, or allows more
// (`additionalProperties: true`); none says `required`, which fast-json-stringify enforces by
// throwing (a documentation keyword must never turn an answer into a 500).
import type { FastifySchemaCompiler } from 'fastify';
import { MAX_PARAM_LENGTH } from './params.js';

/**
 * The route options that keep a route's request schemas documentation only: the "validator"
 * compiled from them accepts everything, untouched (see the top of this file for why).
 */
export const documentationOnly: { validatorCompiler: FastifySchemaCompiler<unknown> } = {
  validatorCompiler: () => () => true,
};

/** Every request body of the public API may be either (src/app.ts registers both parsers). */
export const FORM_OR_JSON = ['application/x-www-form-urlencoded', 'application/json'];

const BODY_RULES =
  'Sent as `application/x-www-form-urlencoded` or as a JSON object. Every value is a single string ' +
  '(a JSON number, array or object is `invalid_request`, and so is a parameter sent twice); an empty value counts as omitted; ' +
  'parameters the endpoint does not read are ignored.';

/** What each request parameter of the public API is, by name. */
const PARAMETERS: Record<string, { description: string; enum?: readonly string[]; maxLength?: number }> = {
  grant_type: { description: 'the grant (RFC 6749 §4)' },
  client_id: {
    description:
      'the client; alone, for a public client (`none`); with `client_secret`, client_secret_post; optional beside Basic credentials or an assertion, and then it must name the same client',
  },
  client_secret: { description: 'client_secret_post (RFC 6749 §2.3.1); not together with HTTP Basic or an assertion' },
  client_assertion_type: {
    description: 'private_key_jwt (RFC 7523 §2.2): the one type accepted',
    enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'],
  },
  client_assertion: {
    description:
      "private_key_jwt: a JWT signed with one of the client's registered keys, `iss` = `sub` = client_id, `aud` the issuer or this endpoint's URL, `exp` at most 5 minutes ahead, a `jti` accepted once",
    maxLength: 16 * 1024,
  },
  scope: { description: "space-separated scopes; omitted: every scope the client is registered with (a refresh: the token's scope)" },
  username: { description: 'the user (password grant; the sign-in form)' },
  password: { description: "the user's password (password grant; the sign-in form)" },
  code: { description: 'the authorization code (authorization_code grant)' },
  redirect_uri: { description: 'exactly the redirect URI the code was issued for' },
  code_verifier: { description: 'PKCE (RFC 7636): the verifier of the S256 challenge, 43 to 128 unreserved characters' },
  refresh_token: { description: 'the refresh token (refresh_token grant); a browser client sends it only as its cookie, never here' },
  token: { description: 'the token' },
  token_type_hint: { description: "read and ignored (the token's own shape says what it is)" },
  audience: { description: 'the token is valid only if its `aud` is this value (RFC 9068 §4)' },
  access_token: { description: 'the access token, in a form body (RFC 6750 §2.2), when not in `Authorization: Bearer`; never in the URL' },
  response_type: { description: 'only `code`', enum: ['code'] },
  state: { description: 'opaque to the server, passed back to the redirect URI' },
  code_challenge: { description: 'PKCE: BASE64URL(SHA-256(code_verifier)), 43 characters' },
  code_challenge_method: { description: 'only `S256`', enum: ['S256'] },
  csrf: { description: "the sign-in form's CSRF value (its hidden field), matched against the tessera_login_csrf cookie" },
  nonce: { description: 'OpenID Connect: echoed in the ID token; at most 512 characters', maxLength: 512 },
  prompt: {
    description:
      'OpenID Connect: space-separated `none` (answer without any page: `login_required` or `consent_required` when one is needed), `login` (sign in again), `consent` (ask again), `select_account` (served as `login`); `none` with another value is invalid_request',
  },
  max_age: {
    description:
      'OpenID Connect: the most seconds since the sign-in; an older session signs in again (0: always). A value beyond any lifetime means no limit',
  },
  login_hint: { description: 'OpenID Connect: prefills the username on the sign-in page' },
  request: { description: 'OpenID Connect request object: not supported (`request_not_supported`)' },
  request_uri: { description: 'OpenID Connect request object by reference: not supported (`request_uri_not_supported`)' },
  decision: { description: 'the consent form: `allow` or `deny`', enum: ['allow', 'deny'] },
  id_token_hint: {
    description:
      'RP-Initiated Logout: an ID token this server issued to the client (an expired one counts); names the user, the client and the session',
  },
  post_logout_redirect_uri: {
    description:
      "RP-Initiated Logout: where to send the browser afterwards; exactly one of the client's registered post-logout redirect URIs",
  },
  logout_hint: { description: 'RP-Initiated Logout: read and ignored' },
  ui_locales: { description: 'read and ignored' },
};

/**
 * The object schema of a request's parameters (a body or a query string), from the names the
 * endpoint reads: an unknown name is a mistake here, found when the app is built.
 */
export function parameters(
  names: readonly string[],
  options: {
    required?: readonly string[];
    description?: string;
    /** What a parameter means at this endpoint, where it differs from PARAMETERS. */
    own?: Record<string, { description?: string; enum?: readonly string[] }>;
  } = {},
) {
  const properties: Record<string, object> = {};
  for (const name of names) {
    if (!PARAMETERS[name]) throw new Error(`route-docs: no description for the parameter \`${name}\``);
    const doc = { ...PARAMETERS[name], ...options.own?.[name] };
    properties[name] = {
      type: 'string',
      minLength: 1,
      maxLength: doc.maxLength ?? MAX_PARAM_LENGTH,
      description: doc.description,
      ...(doc.enum ? { enum: doc.enum } : {}),
    };
  }
  return {
    type: 'object',
    description: options.description ?? BODY_RULES,
    properties,
    ...(options.required?.length ? { required: options.required } : {}),
  };
}

/** The one shape of every error of the public API (src/http/errors.ts), with the codes a status may carry. */
export function oauthError(description: string, codes: readonly string[], headers?: Record<string, object>) {
  return {
    description,
    type: 'object',
    properties: {
      error: { type: 'string', enum: codes, description: 'the error code of the RFC' },
      error_description: { type: 'string', description: 'what is wrong, for people' },
    },
    ...(headers ? { headers } : {}),
  } as const;
}

const retryAfter = { 'Retry-After': { type: 'integer', description: 'seconds to wait before trying again' } };

/** The errors any endpoint that reads a body may answer, besides its own. */
export const commonErrors = {
  413: oauthError('The body is larger than 16 KiB', ['invalid_request']),
  500: oauthError('An unexpected error; nothing of it is shown', ['server_error']),
  503: oauthError(
    'The database is unreachable, the server is shutting down or too busy: try again after Retry-After',
    ['temporarily_unavailable'],
    retryAfter,
  ),
} as const;

export const throttled = oauthError(
  'Too many failed sign-ins for this username or address (at most 10 in 15 minutes): even the right password waits',
  ['temporarily_unavailable'],
  retryAfter,
);

/** 401 for a client that could not be authenticated (RFC 6749 §5.2). */
export const invalidClient = oauthError(
  'Client authentication failed: unknown client, wrong secret, bad assertion, or none sent. With `WWW-Authenticate: Basic` when Basic was tried',
  ['invalid_client'],
  { 'WWW-Authenticate': { type: 'string', description: 'Basic realm="tessera", charset="UTF-8" (when the request used Basic)' } },
);

/**
 * OpenAPI security requirements: one of `schemes` (names in the document's securitySchemes, src/app.ts),
 * or with `orInBody` none at the HTTP level (`{}`): the credentials travel in the body.
 */
export function security(schemes: string[], orInBody: boolean): Record<string, string[]>[] {
  return [...schemes.map((name) => ({ [name]: [] })), ...(orInBody ? [{}] : [])];
}

/** Client authentication (RFC 6749 §2.3, RFC 7523): HTTP Basic, or client_secret_post / private_key_jwt / a public client's client_id in the body. */
export const clientAuthentication = security(['clientBasic'], true);

/** The browser client's cookies and CSRF header (src/http/browser-session.ts), as request parameters. */
export const browserSession = {
  headers: {
    type: 'object',
    properties: {
      'x-csrf-token': {
        type: 'string',
        description: "browser clients: the value of the tessera_csrf cookie, bound to the refresh token's family",
      },
    },
  },
  cookies: {
    type: 'object',
    properties: {
      tessera_refresh: { type: 'string', description: 'browser clients: the refresh token (HttpOnly, Path=/token)' },
    },
  },
} as const;

/**
 * A user's `roles` or `groups` in an answer about their token: their current list, present only
 * when not empty (the same rule at /token/verify, /introspect and /userinfo, and in JWT access tokens).
 */
export function userLabels(which: 'roles' | 'groups') {
  return {
    type: 'array',
    items: { type: 'string' },
    description: `the user's ${which} as they are now (for a JWT too, whatever it carries), only when they have some`,
  } as const;
}

export const noStore = { 'Cache-Control': { type: 'string', description: 'no-store (with Pragma: no-cache)' } };
