// POST /token — RFC 6749 token endpoint, every grant: the client is authenticated once, the
// grant it asks for is looked up in the registry (src/oauth/grants/), and the grant's handler
// gets the client's record and the grant's own parameters.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clients } from '../domain/clients.js';
import type { Metrics } from '../metrics.js';
import type { GrantServices } from '../oauth/grants/grant.js';
import { GRANTS } from '../oauth/grants/index.js';
import { grantFor, TOKEN_PARAMETERS } from '../oauth/token-request.js';
import { secondsUntil } from '../tokens/minter.js';
import { browserRefreshToken, checkBrowserOrigin, setBrowserSession, type BrowserCookies } from './browser-session.js';
import { authenticateClient } from './client-auth.js';
import { countTokenFailure } from './metrics.js';
import { allParams, pick } from './params.js';
import { noteRequestParties } from './request-log.js';
import {
  browserSession,
  clientAuthentication,
  commonErrors,
  documentationOnly,
  FORM_OR_JSON,
  invalidClient,
  noStore,
  oauthError,
  parameters,
  throttled,
} from './route-docs.js';

// Every property the answer can hold: fast-json-stringify drops any other (src/http/route-docs.ts).
export const tokenResponseSchema = {
  description: 'The tokens (RFC 6749 §5.1)',
  type: 'object',
  properties: {
    access_token: { type: 'string', description: 'opaque (`tsa_…`) or a JWT (RFC 9068), as the client is registered' },
    token_type: { type: 'string', enum: ['Bearer'] },
    expires_in: { type: 'integer', description: 'seconds until the access token expires' },
    scope: { type: 'string', description: 'the granted scopes, space-separated' },
    refresh_token: {
      type: 'string',
      description:
        'a new `tsr_…` token (each refresh rotates it), for the grants that issue one (not client_credentials); a browser client gets it as the tessera_refresh cookie instead',
    },
    id_token: {
      type: 'string',
      description:
        "OpenID Connect: an ID token (ES256, typ JWT) when the grant's scope holds `openid`, from the authorization_code grant and each refresh of it (never the password grant)",
    },
  },
  headers: {
    ...noStore,
    'Set-Cookie': { type: 'string', description: 'browser clients: tessera_refresh (HttpOnly, Path=/token) and tessera_csrf (Path=/)' },
  },
} as const;

/** The token endpoint's errors (RFC 6749 §5.2), for /token and /token/refresh. */
export const tokenErrors = {
  400: oauthError('The request is refused (RFC 6749 §5.2)', [
    'invalid_request',
    'invalid_grant',
    'invalid_scope',
    'unauthorized_client',
    'unsupported_grant_type',
  ]),
  401: invalidClient,
  403: oauthError("A browser client's request from an origin it does not allow: no cookie is set or used", ['invalid_request']),
  429: throttled,
  ...commonErrors,
} as const;

/** The grants' own parameters, each once, in the registry's order. */
const GRANT_PARAMETERS = [...new Set(GRANTS.flatMap((grant) => grant.parameters))];

export interface TokenEndpointServices {
  clients: Pick<Clients, 'authenticate'>;
  grants: GrantServices;
  metrics: Metrics;
  browserCookies: BrowserCookies;
}

/**
 * Runs a token request and answers it. A browser client's refresh token comes from and goes to
 * its cookie, and only for requests from its own origins; everyone else's travels in the body.
 */
export async function answerTokenRequest(
  services: TokenEndpointServices,
  request: FastifyRequest,
  reply: FastifyReply,
  params: Record<string, string>,
) {
  const own = pick(params, TOKEN_PARAMETERS);
  const client = await authenticateClient(services.clients, request, own);
  noteRequestParties(request, client.id);
  const grant = grantFor(client, own.grant_type);
  const grantParams = pick(params, grant.parameters);
  // Before the grant runs: a refused request must neither use up a code or token nor set cookies.
  if (client.browser && grant.rules.issuesRefreshToken) checkBrowserOrigin(request, client);
  if (client.browser && grant.name === 'refresh_token') {
    grantParams.refresh_token = await browserRefreshToken(request, params, services.browserCookies.csrfKey, services.grants.tokens);
  }
  const issued = await grant
    .handle({ client, params: grantParams, address: request.ip }, services.grants)
    .catch((error: unknown) => countTokenFailure(services.metrics, grant.name, error));
  noteRequestParties(request, client.id, issued.userId);
  services.metrics.tokensIssued.inc({ grant: grant.name, format: client.tokenFormat });
  if (client.browser && issued.refreshToken !== undefined) setBrowserSession(reply, services.browserCookies, client, issued);
  return reply.send({
    access_token: issued.accessToken,
    token_type: 'Bearer',
    expires_in: secondsUntil(issued.expiresAt),
    scope: issued.scope,
    ...(issued.refreshToken && !client.browser ? { refresh_token: issued.refreshToken } : {}),
    // A browser client gets it in the body too: it is for the client to read, and opens no API.
    ...(issued.idToken !== undefined ? { id_token: issued.idToken } : {}),
  });
}

export function tokenRoute(app: FastifyInstance, services: TokenEndpointServices): void {
  const schema = {
    tags: ['oauth'],
    summary: 'Token endpoint (RFC 6749 §3.2): every grant',
    description:
      '`grant_type` chooses the grant, and with it the parameters read: `authorization_code` (`code`, `redirect_uri`, `code_verifier`: PKCE S256 is required), ' +
      '`client_credentials` (`scope`; confidential clients only, no refresh token), `refresh_token` (`refresh_token`, `scope` to narrow; the refresh token rotates, and one used twice ends its whole family), ' +
      '`password` (`username`, `password`, `scope`; deprecated by RFC 9700, only for clients registered with it). A client uses only the grants it is registered for. ' +
      'When the scope granted by `authorization_code` holds `openid`, the answer has an `id_token` (OpenID Connect), and so has each refresh of that grant. ' +
      'The client authenticates with HTTP Basic (client_secret_basic), `client_id` + `client_secret` in the body (client_secret_post), a `client_assertion` (private_key_jwt), or `client_id` alone (a public client); one method per request. ' +
      "A browser client's refresh token travels in the tessera_refresh cookie with the X-CSRF-Token header, never in the body, and its requests must come from its allowed origins.",
    security: clientAuthentication,
    consumes: FORM_OR_JSON,
    body: parameters([...TOKEN_PARAMETERS, ...GRANT_PARAMETERS], {
      required: ['grant_type'],
      own: { grant_type: { enum: GRANTS.map((grant) => grant.name) } },
    }),
    ...browserSession,
    response: { 200: tokenResponseSchema, ...tokenErrors },
  };
  // documentationOnly: the schema documents; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.post('/token', { schema, ...documentationOnly }, async (request, reply) =>
    answerTokenRequest(services, request, reply, allParams(request.body)),
  );
}
