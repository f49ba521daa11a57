// RFC 7009 revocation, and the admin's revocation of single tokens. A client may revoke only its
// own tokens; for anything else (unknown, expired, another client's) nothing happens, and the
// caller cannot tell the difference.
import type { Store } from '../store/store.js';
import { verifyAccessToken } from './jwt.js';
import type { KeyRing } from './keys.js';
import { ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, hasOpaqueShape, tokenDigest } from './opaque.js';

export type RevokeOutcome = 'revoked' | 'not-found';

export class Revocation {
  constructor(
    private readonly store: Store,
    private readonly keys: KeyRing,
    private readonly issuer: string,
  ) {}

  /** Revokes `token` if it is `ownerClientId`'s (any client's when null: the admin). */
  async revoke(token: string, ownerClientId: string | null): Promise<RevokeOutcome> {
    const owns = (clientId: string) => ownerClientId === null || ownerClientId === clientId;
    if (hasOpaqueShape(token, REFRESH_TOKEN_PREFIX)) {
      const record = await this.store.tokens.refreshToken(tokenDigest(token));
      if (!record || !owns(record.grant.clientId)) return 'not-found';
      await this.store.tokens.revokeGrant(record.grantId);
      return 'revoked';
    }
    if (hasOpaqueShape(token, ACCESS_TOKEN_PREFIX)) {
      const digest = tokenDigest(token);
      const record = await this.store.tokens.accessToken(digest);
      if (!record || !owns(record.clientId)) return 'not-found';
      await this.store.tokens.revokeAccessToken(digest);
      return 'revoked';
    }
    const claims = await verifyAccessToken(this.keys, token, this.issuer);
    if (!claims || !owns(claims.client_id)) return 'not-found';
    await this.store.tokens.revokeJwt(claims.jti, new Date(claims.exp * 1000));
    return 'revoked';
  }
}
