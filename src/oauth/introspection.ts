// Who may learn what through introspection (RFC 7662 §2.1, §4): only confidential clients ask; a
// client may always introspect its own tokens, others' only with the introspect permission.
import { isPublicClient } from '../domain/clients.js';
import type { ClientRecord } from '../records.js';
import type { ActiveToken, TokenInspector } from '../tokens/inspector.js';
import { InvalidClientError, InvalidRequestError } from './errors.js';

export async function introspect(inspector: TokenInspector, caller: ClientRecord, token: string | undefined): Promise<ActiveToken | null> {
  if (isPublicClient(caller)) throw new InvalidClientError('Invalid client: introspection needs a confidential client');
  if (token === undefined) throw new InvalidRequestError('Missing parameter: `token`');
  const active = await inspector.activeToken(token);
  return active && (caller.canIntrospect || active.client.id === caller.id) ? active : null;
}
