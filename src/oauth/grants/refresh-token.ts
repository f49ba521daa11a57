// refresh_token (RFC 6749 §6): a refresh token is used once and replaced (rotation); a token
// presented twice ends its whole family, since one of the two presenters may have stolen it
// (RFC 9700 §4.14.2).
import { refreshTokenState } from '../../tokens/lifecycle.js';
import { InvalidGrantError, InvalidRequestError } from '../errors.js';
import { narrowedScope, requestedScope } from '../scope.js';
import { VSCHAR } from '../syntax.js';
import { defineGrant, withIdToken } from './grant.js';

const invalid = () => new InvalidGrantError('Invalid grant: refresh token is invalid');

export const refreshToken = defineGrant({
  name: 'refresh_token',
  parameters: ['refresh_token', 'scope'],
  rules: { issuesRefreshToken: true, publicClientAllowed: true, needsRedirectUri: false, deprecated: false },

  async handle({ client, params }, { tokens, users, idTokens }) {
    const presented = params.refresh_token;
    if (!presented) throw new InvalidRequestError('Missing parameter: `refresh_token`');
    if (!VSCHAR.test(presented)) throw new InvalidRequestError('Invalid parameter: `refresh_token`');
    const record = await tokens.findRefreshToken(presented);
    // Another client's token is simply invalid for this one, and changes nothing.
    if (!record || record.grant.clientId !== client.id) throw invalid();
    const state = refreshTokenState(record);
    if (state === 'reused') {
      await tokens.revokeFamily(record.grantId, client.id, 'refresh token reused');
      throw invalid();
    }
    const user = state === 'revoked' ? null : await users.activeById(record.grant.userId);
    if (!user) throw invalid();
    if (state === 'expired') throw new InvalidGrantError('Invalid grant: refresh token has expired');
    const issued = await tokens.rotate(client, record, narrowedScope(record.scope, requestedScope(params.scope)), user);
    if (!issued) throw new InvalidGrantError('Invalid grant: refresh token is invalid or already used');
    const { grant } = record;
    // Only a family the code flow started has a sign-in time: the password grant's never gets an
    // ID token, not even by refreshing. Core §12.2: the same auth_time and sid as the family's
    // first ID token, and no nonce.
    if (grant.authTime === null) return issued;
    return withIdToken(issued, grant.scope, idTokens, { client, user, authTime: grant.authTime, sessionId: grant.sessionId });
  },
});
