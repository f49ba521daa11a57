// Runs one token request (RFC 6749 §4, §6) through @node-oauth/oauth2-server's grant handlers
// with Tessera's model, and returns what the token response must say.
import OAuth2Server from '@node-oauth/oauth2-server';
import type { ClientRecord } from '../store/clients.js';
import type { Tessera } from '../tessera.js';
import { createModel, type GrantContext } from './model.js';

export interface ClientCredentials {
  clientId: string;
  clientSecret?: string;
}

export interface IssuedTokens {
  client: ClientRecord;
  accessToken: string;
  expiresIn: number;
  scope: string;
  refreshToken?: string;
}

// Public clients authenticate with their client_id alone on these grants; client_credentials
// always needs a secret.
const requireClientAuthentication = { password: false, refresh_token: false, authorization_code: false };

export async function runTokenGrant(
  tessera: Tessera,
  params: Record<string, string>,
  credentials: ClientCredentials | null,
  address: string,
): Promise<IssuedTokens> {
  const ctx: GrantContext = { grantType: params.grant_type ?? '', params, address };
  const server = new OAuth2Server({ model: createModel(tessera, ctx) as unknown as OAuth2Server.PasswordModel });
  const body: Record<string, string> = { ...params };
  delete body.client_id;
  delete body.client_secret;
  if (credentials) {
    body.client_id = credentials.clientId;
    if (credentials.clientSecret !== undefined) body.client_secret = credentials.clientSecret;
  }
  // The body was parsed and checked at the HTTP edge (form or JSON); the library reads it as a form.
  const request = new OAuth2Server.Request({
    method: 'POST',
    query: {},
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '1' },
    body,
  });
  const token = await server.token(request, new OAuth2Server.Response({ headers: {} }), {
    requireClientAuthentication,
    alwaysIssueNewRefreshToken: true,
  });
  const client = ctx.client!;
  return {
    client,
    accessToken: token.accessToken,
    expiresIn: Math.max(0, Math.round((ctx.access!.expiresAt.getTime() - Date.now()) / 1000)),
    scope: Array.isArray(token.scope) ? token.scope.join(' ') : (token.scope ?? ''),
    refreshToken: token.refreshToken,
  };
}
