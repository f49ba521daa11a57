// authorization_code (RFC 6749 §4.1.3) with PKCE (RFC 7636): the code the sign-in page issued
// (src/http/authorize.ts) is exchanged once, by the client it was issued to, with the redirect URI
// it was issued for and the verifier of its challenge.
import { createHash, randomUUID } from 'node:crypto';
import { sameSecret } from '../../tokens/constant-time.js';
import { InvalidGrantError, InvalidRequestError } from '../errors.js';
import { clientScope } from '../scope.js';
import { parseScope } from '../../domain/scopes.js';
import { VSCHAR } from '../syntax.js';
import { defineGrant, withIdToken } from './grant.js';

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

const invalid = () => new InvalidGrantError('Invalid grant: authorization code is invalid');

export const authorizationCode = defineGrant({
  name: 'authorization_code',
  parameters: ['code', 'redirect_uri', 'code_verifier'],
  rules: { issuesRefreshToken: true, publicClientAllowed: true, needsRedirectUri: true, deprecated: false },

  async handle({ client, params }, { tokens, users, idTokens, sessions, consents }) {
    if (!params.code) throw new InvalidRequestError('Missing parameter: `code`');
    if (!VSCHAR.test(params.code)) throw new InvalidRequestError('Invalid parameter: `code`');
    const code = await tokens.findCode(params.code);
    if (!code || code.clientId !== client.id) throw invalid();
    if (code.consumedAt) {
      // RFC 6749 §4.1.2: a code used twice revokes what its first use issued.
      if (code.grantId) await tokens.revokeFamily(code.grantId, client.id, 'authorization code reused');
      throw invalid();
    }
    // §4.1.3: the redirect_uri must be the one the code was issued for.
    if (params.redirect_uri !== code.redirectUri) throw invalid();
    const user = await users.activeById(code.userId);
    if (!user) throw invalid();
    if (code.expiresAt.getTime() < Date.now()) throw new InvalidGrantError('Invalid grant: authorization code has expired');
    // The code is used up before the verifier is checked, so that a wrong guess costs the code.
    const grantId = randomUUID();
    if (!(await tokens.consumeCode(code, grantId))) throw invalid();
    // Codes are only ever issued with an S256 challenge (src/oauth/authorization-request.ts).
    if (code.codeChallengeMethod !== 'S256') throw invalid();
    const verifier = params.code_verifier;
    if (!verifier) throw new InvalidGrantError('Missing parameter: `code_verifier`');
    if (!CODE_VERIFIER.test(verifier)) throw new InvalidRequestError('Invalid parameter: `code_verifier`');
    if (!sameSecret(createHash('sha256').update(verifier).digest('base64url'), code.codeChallenge))
      throw new InvalidGrantError('Invalid grant: code verifier is invalid');
    const scope = clientScope(client, parseScope(code.scope));
    // /authorize records the sign-in time with every code; one without it (issued before codes
    // recorded it) counts as a sign-in now.
    const signIn = { sessionId: code.sessionId, authTime: code.authTime ?? new Date() };
    const issued = await tokens.startGrant(client, user, scope, grantId, signIn);
    // A logout of the code's session revokes the families it finds (SessionStore.end); one this
    // exchange starts as the session ends must not outlive it. Checked in the database once the
    // family is committed: a logout that ended the session first is seen here, a later one finds
    // the family.
    if (code.sessionId !== null && (await sessions.isEnded(code.sessionId))) {
      await tokens.revokeFamily(grantId, client.id, 'the session of the authorization code ended');
      throw invalid();
    }
    // The same for a third-party client's approval: a withdrawal (ConsentStore.revoke) ends the
    // families it finds, and one committed after it is caught here.
    if (client.consent && !(await consents.covers(user.id, client.id, parseScope(scope)))) {
      await tokens.revokeFamily(grantId, client.id, 'the approval of the authorization code was withdrawn');
      throw invalid();
    }
    return withIdToken(issued, scope, idTokens, { client, user, ...signIn, nonce: code.nonce });
  },
});
