// password (RFC 6749 §4.3): the client collects the user's password. Deprecated by RFC 9700 and
// kept for migrations; every check is throttled per username and address (src/domain/throttle.ts).
import { InvalidGrantError, InvalidRequestError } from '../errors.js';
import { clientScope, requestedScope } from '../scope.js';
import { defineGrant } from './grant.js';

/** UNICODECHARNOCRLF (RFC 6749 Appendix A). */
const UNICODE_NO_CRLF = /^[\t\x20-\x7E\x80-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]+$/u;

export const password = defineGrant({
  name: 'password',
  parameters: ['username', 'password', 'scope'],
  rules: { issuesRefreshToken: true, publicClientAllowed: true, needsRedirectUri: false, deprecated: true },

  async handle({ client, params, address }, { tokens, users }) {
    const requested = requestedScope(params.scope);
    const { username, password } = params;
    if (!username) throw new InvalidRequestError('Missing parameter: `username`');
    if (!password) throw new InvalidRequestError('Missing parameter: `password`');
    if (!UNICODE_NO_CRLF.test(username)) throw new InvalidRequestError('Invalid parameter: `username`');
    if (!UNICODE_NO_CRLF.test(password)) throw new InvalidRequestError('Invalid parameter: `password`');
    const user = await users.signIn(username, password, address);
    if (!user) throw new InvalidGrantError('Invalid grant: user credentials are invalid');
    // Never an ID token, even for `openid`: a password grant has no OpenID Connect sign-in.
    return tokens.startGrant(client, user, clientScope(client, requested));
  },
});
