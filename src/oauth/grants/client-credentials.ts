// client_credentials (RFC 6749 §4.4): a confidential client's token for itself, with no user and
// no refresh token.
import { clientScope, requestedScope } from '../scope.js';
import { defineGrant } from './grant.js';

export const clientCredentials = defineGrant({
  name: 'client_credentials',
  parameters: ['scope'],
  rules: { issuesRefreshToken: false, publicClientAllowed: false, needsRedirectUri: false, deprecated: false },

  async handle({ client, params }, { tokens }) {
    const scope = clientScope(client, requestedScope(params.scope));
    const minted = await tokens.issueAccessToken(client, null, scope);
    return { accessToken: minted.token, expiresAt: minted.expiresAt, scope };
  },
});
