// Who may call the admin API: a bearer access token whose scope holds tessera:admin, issued by
// client_credentials to a client that is an admin client now (RFC 6750 §2.1). The token is checked
// like any other (src/tokens/inspector.ts): revoked, expired or of a deleted client, it is refused.
import type { FastifyRequest } from 'fastify';
import type { AdminApi } from '../../admin/api.js';
import { ADMIN_SCOPE } from '../../domain/clients.js';
import type { TokenInspector } from '../../tokens/inspector.js';
import { AdminAuthError } from './problems.js';

/** The admin operations for the request's caller (authenticated before its body was read). */
export type AdminFor = (request: FastifyRequest) => Promise<AdminApi>;

// The scheme's name is case-insensitive (RFC 9110 §11.1).
const BEARER = /^Bearer ([\x21-\x7e]{1,4096})$/i;

/** The admin client's id, or an AdminAuthError. */
export async function adminCaller(request: FastifyRequest, inspector: Pick<TokenInspector, 'activeAccessToken'>): Promise<string> {
  const match = BEARER.exec(request.headers.authorization ?? '');
  if (!match) throw new AdminAuthError(401, 'send an admin access token: Authorization: Bearer <token>');
  const token = await inspector.activeAccessToken(match[1]!);
  if (!token) throw new AdminAuthError(401, 'the access token is not active');
  // A user's token never opens the admin API, even one of an admin client.
  const isClientToken = token.username === null && token.sub === token.client.id;
  if (!isClientToken || !token.client.admin || !token.scope.split(' ').includes(ADMIN_SCOPE))
    throw new AdminAuthError(403, `the access token needs the scope ${ADMIN_SCOPE}, from client_credentials of an admin client`);
  return token.client.id;
}
