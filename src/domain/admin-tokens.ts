// Access tokens issued by the admin command for a user and client, outside any OAuth flow
// (for scripts and debugging). Same rules as a grant: the user is active, the scope is the client's.
import type { Tessera } from '../tessera.js';
import { AdminError } from './errors.js';
import { formatScope } from './scopes.js';

export async function issueAdminToken(
  tessera: Tessera,
  username: string,
  clientId: string,
  scopes: string[] | undefined,
  ttl: number | undefined,
) {
  const user = await tessera.users.get(username);
  if (!user.active) throw new AdminError(`user "${username}" is inactive`);
  const client = await tessera.clients.get(clientId);
  const unknown = (scopes ?? []).filter((s) => !client.scopes.includes(s));
  if (unknown.length > 0) throw new AdminError(`client ${client.id} may not ask for: ${unknown.join(' ')}`);
  if (ttl !== undefined && (ttl < 1 || ttl > 366 * 86_400)) throw new AdminError('--ttl must be from 1 to 31622400 seconds');
  const scope = formatScope(scopes?.length ? scopes : client.scopes);
  const minted = await tessera.issuer.accessToken({ client, userId: user.id, scope, grantId: null, ttlSeconds: ttl });
  if (minted.record) await tessera.store.tokens.saveAccessToken(minted.record);
  return {
    access_token: minted.token,
    token_type: 'Bearer',
    expires_in: Math.round((minted.expiresAt.getTime() - Date.now()) / 1000),
    scope,
    client_id: client.id,
    username: user.username,
  };
}
