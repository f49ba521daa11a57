// Mints access tokens in the client's registered format, and refresh tokens. Persisting them is
// the caller's job (src/tokens/lifecycle.ts), so that a grant's tokens are written in one transaction.
import type { ClientRecord, NewAccessToken, UserRecord } from '../records.js';
import { signAccessToken } from './jwt.js';
import type { KeyRing } from './keys.js';
import { ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, newOpaqueToken, tokenDigest } from './opaque.js';

export interface MintedAccessToken {
  token: string;
  expiresAt: Date;
  /** The row to store for an opaque token; null for a JWT, which is not stored. */
  record: NewAccessToken | null;
}

/** What a user's access token says about them: their id, and their roles and groups. */
export type TokenUser = Pick<UserRecord, 'id' | 'roles' | 'groups'>;

export interface AccessTokenRequest {
  client: ClientRecord;
  /** The user the token speaks for; null for a client's own token (client_credentials). */
  user: TokenUser | null;
  scope: string;
  grantId: string | null;
  ttlSeconds?: number | undefined;
}

/** The audience of the client's access tokens: the API it registered, by default this server. */
export const audienceOf = (client: ClientRecord, issuer: string) => client.audience ?? issuer;

/**
 * A user's `roles` and `groups`, each only when not empty: one rule for JWT access tokens (RFC 9068
 * §2.2.3.1), /token/verify, /introspect and /userinfo alike.
 */
export function rolesAndGroups(user: Pick<UserRecord, 'roles' | 'groups'> | null): { roles?: string[]; groups?: string[] } {
  return {
    ...(user?.roles.length ? { roles: user.roles } : {}),
    ...(user?.groups.length ? { groups: user.groups } : {}),
  };
}

/** Whole seconds from now until `date` (expires_in), never negative. */
export const secondsUntil = (date: Date) => Math.max(0, Math.round((date.getTime() - Date.now()) / 1000));

export class TokenMinter {
  constructor(
    private readonly keys: KeyRing,
    private readonly issuer: string,
  ) {}

  async mintAccessToken({ client, user, scope, grantId, ttlSeconds = client.accessTtl }: AccessTokenRequest): Promise<MintedAccessToken> {
    let now = Date.now();
    const endedAt = client.tokensValidAfter?.getTime();
    // A JWT's iat has whole seconds, and every token of the second in which the client's tokens were
    // ended counts as ended: a JWT minted in that second waits for the next one rather than be
    // dead on arrival. (Only just after such a change; an opaque token keeps milliseconds instead.)
    if (client.tokenFormat === 'jwt' && endedAt !== undefined && Math.floor(endedAt / 1000) >= Math.floor(now / 1000)) {
      await new Promise((resolve) => setTimeout(resolve, 1000 - (now % 1000) + 1));
      now = Date.now();
    }
    const iat = Math.floor(now / 1000);
    const expiresAt = new Date((iat + ttlSeconds) * 1000);
    if (client.tokenFormat === 'jwt') {
      const token = await signAccessToken(this.keys, {
        iss: this.issuer,
        sub: user?.id ?? client.id,
        aud: audienceOf(client, this.issuer),
        client_id: client.id,
        scope,
        iat,
        exp: iat + ttlSeconds,
        ...(grantId ? { sid: grantId } : {}),
        ...rolesAndGroups(user),
      });
      return { token, expiresAt, record: null };
    }
    const token = newOpaqueToken(ACCESS_TOKEN_PREFIX);
    return {
      token,
      expiresAt,
      // Milliseconds: a token issued just after a revocation in the same second is told apart from one before it.
      record: {
        digest: tokenDigest(token),
        clientId: client.id,
        userId: user?.id ?? null,
        grantId,
        scope,
        issuedAt: new Date(now),
        expiresAt,
      },
    };
  }

  mintRefreshToken(): { token: string; digest: string } {
    const token = newOpaqueToken(REFRESH_TOKEN_PREFIX);
    return { token, digest: tokenDigest(token) };
  }
}
