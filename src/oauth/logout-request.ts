// The logout request of OpenID Connect RP-Initiated Logout 1.0 (§2–§4), checked whole before
// anything ends: a hint that is not our ID token, a client_id that contradicts it, or a
// post_logout_redirect_uri that cannot be checked or is not registered is an error shown to the
// user, never a redirect (§4), and the session goes on.
import type { Clients } from '../domain/clients.js';
import type { ClientRecord } from '../records.js';
import type { IdTokenHint, IdTokens } from '../tokens/id-token.js';

export const LOGOUT_PARAMETERS = ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id', 'logout_hint', 'ui_locales'] as const;

export type LogoutParameters = Partial<Record<(typeof LOGOUT_PARAMETERS)[number], string>>;

export interface LogoutRequest {
  /** Who the client says is signing out, and from which session; null without an id_token_hint. */
  hint: IdTokenHint | null;
  /** The client that asked (named by the hint or by client_id), when known and registered. */
  client: ClientRecord | null;
  /** Where the browser goes afterwards: registered for `client`, compared exactly. */
  redirectUri: string | undefined;
  state: string | undefined;
}

export class LogoutError extends Error {}

export async function checkLogoutRequest(
  services: { clients: Pick<Clients, 'find'>; idTokens: Pick<IdTokens, 'verifyHint'> },
  params: LogoutParameters,
): Promise<LogoutRequest> {
  let hint: IdTokenHint | null = null;
  if (params.id_token_hint !== undefined) {
    // An expired hint still names its session (§2); a tampered or foreign one, or an access token, names nothing.
    hint = await services.idTokens.verifyHint(params.id_token_hint);
    if (!hint) throw new LogoutError('The id_token_hint is not an ID token this server issued.');
    // §2: with both, the client_id must be the one the ID token was issued to.
    if (params.client_id !== undefined && params.client_id !== hint.clientId)
      throw new LogoutError('The client_id is not the client the id_token_hint was issued to.');
  }
  const clientId = hint?.clientId ?? params.client_id;
  const client = clientId === undefined ? null : await services.clients.find(clientId);
  if (params.client_id !== undefined && !client) throw new LogoutError('Unknown client_id.');
  const redirectUri = params.post_logout_redirect_uri;
  if (redirectUri !== undefined) {
    // §3: only a URI registered for the client that asked; without knowing the client there is nothing to check it against.
    if (!client) throw new LogoutError('A post_logout_redirect_uri needs an id_token_hint or a client_id.');
    if (!client.postLogoutRedirectUris.includes(redirectUri))
      throw new LogoutError('The post_logout_redirect_uri is not registered for this application.');
  }
  return { hint, client, redirectUri, state: params.state };
}
