// Issuing an authorization code once the user has signed in: single use, short-lived (60 s by
// default, TESSERA_CODE_TTL), bound to the
// client, the redirect URI and the PKCE challenge. Stored by digest.
import type { Tessera } from '../tessera.js';
import type { UserRecord } from '../store/users.js';
import { CODE_PREFIX, newOpaqueToken, tokenDigest } from '../tokens/opaque.js';
import type { AuthorizationRequest } from './authorization-request.js';

export async function issueAuthorizationCode(tessera: Tessera, request: AuthorizationRequest, user: UserRecord): Promise<string> {
  const code = newOpaqueToken(CODE_PREFIX);
  await tessera.store.codes.save({
    digest: tokenDigest(code),
    clientId: request.client.id,
    userId: user.id,
    redirectUri: request.redirectUri,
    scope: request.scope,
    codeChallenge: request.codeChallenge,
    codeChallengeMethod: 'S256',
    expiresAt: new Date(Date.now() + tessera.config.codeTtlSeconds * 1000),
  });
  return code;
}
