// RFC 7009 revocation, and the admin's revocation of single tokens. A client may revoke only its
// own tokens; for anything else (unknown, expired, already revoked, another client's) nothing
// happens, and the caller of /revoke cannot tell the difference (the admin can).
import type { TokenStore } from '../store/tokens.js';
import { verifyAccessToken } from './jwt.js';
import type { KeyRing } from './keys.js';
import { opaqueJti, opaqueKind, tokenDigest } from './opaque.js';

export type RevokeOutcome = 'revoked' | 'not-found';

export class Revocation {
  constructor(
    private readonly tokens: TokenStore,
    private readonly keys: KeyRing,
    private readonly issuer: string,
  ) {}

  /** Revokes `token` if it is `ownerClientId`'s (any client's when null: the admin). */
  async revoke(token: string, ownerClientId: string | null): Promise<RevokeOutcome> {
    const owns = (clientId: string) => ownerClientId === null || ownerClientId === clientId;
    switch (opaqueKind(token)) {
      case 'refresh': {
        const record = await this.tokens.findRefreshToken(tokenDigest(token));
        // Already revoked: nothing to do, and nothing to announce again.
        if (!record || !owns(record.grant.clientId) || record.grant.revokedAt) return 'not-found';
        await this.tokens.revokeGrant(record.grantId);
        return 'revoked';
      }
      case 'access': {
        const digest = tokenDigest(token);
        const record = await this.tokens.findAccessToken(digest);
        if (!record || !owns(record.clientId) || record.revokedAt) return 'not-found';
        await this.tokens.revokeAccessToken(digest, { jti: opaqueJti(digest), expiresAt: record.expiresAt });
        return 'revoked';
      }
      case 'code':
        return 'not-found';
      case null: {
        const claims = await verifyAccessToken(this.keys, token, this.issuer);
        if (!claims || !owns(claims.client_id) || (await this.tokens.isJwtRevoked(claims.jti))) return 'not-found';
        await this.tokens.revokeJwt(claims.jti, new Date(claims.exp * 1000));
        return 'revoked';
      }
    }
  }
}
