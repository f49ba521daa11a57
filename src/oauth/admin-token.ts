// Access tokens the admin command issues for a user and client, outside any OAuth flow (for
// scripts and debugging). Same rules as a grant: the user is active, the scope is the client's.
import { MAX_TTL, type Clients } from '../domain/clients.js';
import { AdminError } from '../domain/errors.js';
import { formatScope } from '../domain/scopes.js';
import type { Users } from '../domain/users.js';
import type { ClientRecord, UserRecord } from '../records.js';
import type { TokenLifecycle } from '../tokens/lifecycle.js';
import type { MintedAccessToken } from '../tokens/minter.js';

export interface AdminTokenRequest {
  username: string;
  clientId: string;
  /** Default: every scope the client is registered for. */
  scopes?: string[] | undefined;
  /** Seconds; default: the client's access token lifetime. */
  ttl?: number | undefined;
}

export async function issueAdminToken(
  services: { users: Pick<Users, 'get'>; clients: Pick<Clients, 'get'>; tokens: TokenLifecycle },
  { username, clientId, scopes, ttl }: AdminTokenRequest,
): Promise<{ minted: MintedAccessToken; scope: string; client: ClientRecord; user: UserRecord }> {
  const user = await services.users.get(username);
  if (!user.active) throw new AdminError(`user "${username}" is inactive`);
  const client = await services.clients.get(clientId);
  const unknown = (scopes ?? []).filter((s) => !client.scopes.includes(s));
  if (unknown.length > 0) throw new AdminError(`client ${client.id} may not ask for: ${unknown.join(' ')}`);
  if (ttl !== undefined && (ttl < 1 || ttl > MAX_TTL)) throw new AdminError(`--ttl must be from 1 to ${MAX_TTL} seconds`);
  // After a key rotation the old key stays published as long as the longest client access TTL:
  // a JWT living longer would stop verifying before it expires.
  if (ttl !== undefined && client.tokenFormat === 'jwt' && ttl > client.accessTtl) {
    throw new AdminError(`--ttl for a JWT client may be at most its access token lifetime (${client.accessTtl} s)`);
  }
  const scope = formatScope(scopes?.length ? scopes : client.scopes);
  const minted = await services.tokens.issueAccessToken(client, user, scope, ttl);
  return { minted, scope, client, user };
}
