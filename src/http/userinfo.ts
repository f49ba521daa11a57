// GET and POST /userinfo — OpenID Connect Core 1.0 §5.3: what a user's access token with the
// scope `openid` may learn about its user. The token is a Bearer token (RFC 6750): in the
// Authorization header, or, for POST, as `access_token` in a form body (§2.2); never in the URL,
// where logs and the Referer header would keep it (§2.3, RFC 9700 §4.3.2).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseScope } from '../domain/scopes.js';
import type { UserRecord } from '../records.js';
import { OPENID_SCOPE } from '../tokens/id-token.js';
import type { TokenInspector } from '../tokens/inspector.js';
import { rolesAndGroups } from '../tokens/minter.js';
import { bearerToken, bodyParams } from './params.js';
import { noteRequestParties } from './request-log.js';
import { commonErrors, documentationOnly, FORM_OR_JSON, noStore, oauthError, parameters, security, userLabels } from './route-docs.js';

// Every property the answer can hold: fast-json-stringify drops any other (src/http/route-docs.ts).
const claimsSchema = {
  description: "The user's claims (OpenID Connect Core §5.1), as the token's scopes allow",
  type: 'object',
  properties: {
    sub: { type: 'string', description: "the user's id: the `sub` of their ID tokens" },
    preferred_username: { type: 'string', description: 'scope `profile`: the username' },
    name: { type: 'string', description: 'scope `profile`: the full name, when the user has one' },
    email: { type: 'string', description: 'scope `email`: the address, when the user has one' },
    email_verified: { type: 'boolean', description: 'scope `email`, beside `email`: true once an admin has marked the address verified' },
    roles: userLabels('roles'),
    groups: userLabels('groups'),
  },
  headers: noStore,
} as const;

const challenge = (value: string) => ({ 'WWW-Authenticate': { type: 'string', description: value } });

const response = {
  200: claimsSchema,
  400: oauthError(
    'The token was sent twice (header and body) or in the URL, or the body cannot be read',
    ['invalid_request'],
    challenge('Bearer error="invalid_request", error_description="…" (RFC 6750 §3.1), when the token was sent twice or in the URL'),
  ),
  401: oauthError(
    "invalid_request: no access token at all; invalid_token: unknown, expired, revoked or malformed, or not a user's (client_credentials)",
    ['invalid_request', 'invalid_token'],
    challenge('`Bearer` alone when there was no token; otherwise Bearer error="invalid_token", error_description="…" (RFC 6750 §3)'),
  ),
  403: oauthError(
    'The token lacks the scope `openid`',
    ['insufficient_scope'],
    challenge('Bearer error="insufficient_scope", scope="openid", error_description="…"'),
  ),
  ...commonErrors,
};

const DESCRIPTION =
  "A user's access token whose scope holds `openid` (any client's, whatever its audience). The answer always holds `sub`; " +
  'with scope `profile` also `preferred_username` and `name` (when the user has one); with scope `email`, `email` and `email_verified` (when the user has an address); ' +
  'and `roles` and `groups` when the user has some. Claims are the user as they are now, not as when the token was issued.';

interface Failure {
  status: 400 | 401 | 403;
  error: 'invalid_request' | 'invalid_token' | 'insufficient_scope';
  description: string;
  /** No token at all: RFC 6750 §3.1 wants the challenge then to carry no error information. */
  bare?: true;
}

/** RFC 6750 §3: the Bearer challenge, and the error in the body as everywhere else. */
function refuse(reply: FastifyReply, { status, error, description, bare }: Failure) {
  const scope = error === 'insufficient_scope' ? ` scope="${OPENID_SCOPE}",` : '';
  const challenge = bare ? 'Bearer' : `Bearer error="${error}",${scope} error_description="${description}"`;
  return reply.code(status).header('WWW-Authenticate', challenge).send({ error, error_description: description });
}

/** The claims `scopes` allow about `user` (Core §5.4). */
function claimsOf(user: UserRecord, scopes: readonly string[]) {
  return {
    sub: user.id,
    ...(scopes.includes('profile') ? { preferred_username: user.username, ...(user.name !== null ? { name: user.name } : {}) } : {}),
    ...(scopes.includes('email') && user.email !== null ? { email: user.email, email_verified: user.emailVerified } : {}),
    ...rolesAndGroups(user),
  };
}

/** The presented token, or why there is none to read. */
function presentedToken(request: FastifyRequest): string | Failure {
  const query = request.query as Record<string, unknown> | undefined;
  if (query && Object.hasOwn(query, 'access_token'))
    return { status: 400, error: 'invalid_request', description: 'Send the access token in the Authorization header, never in the URL' };
  const header = bearerToken(request.headers.authorization);
  const body = request.method === 'POST' ? bodyParams(request, ['access_token']).access_token : undefined;
  if (header !== undefined && body !== undefined)
    return { status: 400, error: 'invalid_request', description: 'Send the access token once: in the header or in the body' };
  const token = header ?? body;
  return token ?? { status: 401, error: 'invalid_request', description: 'No access token: send Authorization: Bearer <token>', bare: true };
}

export function userinfoRoute(app: FastifyInstance, inspector: Pick<TokenInspector, 'activeAccessToken'>): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    // Personal data: no cache may keep it (GET answers are not marked by src/app.ts's hook).
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    const token = presentedToken(request);
    if (typeof token !== 'string') return refuse(reply, token);
    // '' is a Bearer header without one well-formed token: a malformed token.
    const active = token === '' ? null : await inspector.activeAccessToken(token);
    if (!active) return refuse(reply, { status: 401, error: 'invalid_token', description: 'The access token is not valid' });
    noteRequestParties(request, active.client.id, active.sub);
    if (!active.user)
      return refuse(reply, { status: 401, error: 'invalid_token', description: "The access token is a client's own, not a user's" });
    const scopes = parseScope(active.scope);
    if (!scopes.includes(OPENID_SCOPE))
      return refuse(reply, { status: 403, error: 'insufficient_scope', description: 'The access token lacks the scope openid' });
    return reply.send(claimsOf(active.user, scopes));
  };
  const common = { tags: ['oauth'], description: DESCRIPTION, response };
  // documentationOnly: the schema documents; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.get(
    '/userinfo',
    { schema: { ...common, summary: 'OpenID Connect UserInfo', security: security(['bearer'], false) }, ...documentationOnly },
    handler,
  );
  app.post(
    '/userinfo',
    {
      schema: {
        ...common,
        summary: 'OpenID Connect UserInfo, by POST: the token in the header or as `access_token` in the body',
        security: security(['bearer'], true),
        consumes: FORM_OR_JSON,
        body: parameters(['access_token']),
      },
      ...documentationOnly,
    },
    handler,
  );
}
