// OpenID Connect ID tokens (Core 1.0 §2): what the authorization code grant, and each refresh of
// it, tells the client about the sign-in. Signed like access tokens (ES256, the ring's current
// key) but typed `JWT`, never `at+jwt`, so that neither passes for the other (RFC 9068 §2.1).
// verifyHint reads one back as /logout's id_token_hint (RP-Initiated Logout 1.0 §2).
import { createHash } from 'node:crypto';
import { SignJWT, compactVerify, decodeProtectedHeader, errors } from 'jose';
import type { ClientRecord, UserRecord } from '../records.js';
import { looksLikeJwt } from './jwt.js';
import { SIGNING_ALG, type KeyRing } from './keys.js';

export const ID_TOKEN_TYP = 'JWT';
/** The scope that makes a request an OpenID Connect one (Core §3.1.2.1). */
export const OPENID_SCOPE = 'openid';
/** Another instance's clock may run a little ahead of this one's: an iat that far ahead is not "in the future". */
const CLOCK_SKEW_S = 5;

export interface IdTokenInput {
  client: ClientRecord;
  user: Pick<UserRecord, 'id'>;
  /** The access token issued beside it, bound by `at_hash`. */
  accessToken: string;
  /** When the user signed in (`auth_time`). */
  authTime: Date;
  /** The authorization request's nonce: only on the code exchange, never on a refresh (Core §12.2). */
  nonce?: string | null | undefined;
  /** The browser session (`sid`); absent when the grant started without one. */
  sessionId?: string | null | undefined;
}

/** What a valid id_token_hint names. */
export interface IdTokenHint {
  sub: string;
  clientId: string;
  sessionId: string | null;
}

/**
 * Core §3.1.3.6: the left half of the SHA-256 of the access token's ASCII octets, base64url
 * (SHA-256 since the token is signed with ES256).
 */
export function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest().subarray(0, 16).toString('base64url');
}

/** Whether a space-separated scope holds `openid`. */
export const holdsOpenId = (scope: string) => scope.split(' ').includes(OPENID_SCOPE);

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

export class IdTokens {
  constructor(
    private readonly keys: KeyRing,
    private readonly issuer: string,
  ) {}

  /** An ID token for `user` at `client`, living as long as the client's access tokens. */
  async mint({ client, user, accessToken, authTime, nonce, sessionId }: IdTokenInput): Promise<string> {
    const { kid, key } = this.keys.signingKey();
    const iat = seconds(new Date());
    return new SignJWT({
      iss: this.issuer,
      sub: user.id,
      aud: client.id,
      // Core §2: azp names the party the token was issued to; with one audience it is that audience.
      azp: client.id,
      exp: iat + client.accessTtl,
      iat,
      auth_time: seconds(authTime),
      ...(nonce ? { nonce } : {}),
      at_hash: atHash(accessToken),
      ...(sessionId ? { sid: sessionId } : {}),
    })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: ID_TOKEN_TYP })
      .sign(key);
  }

  /**
   * The user, client and session an ID token of ours names, or null for anything else: malformed,
   * tampered, signed by a key no longer published, from another issuer, or an access token. An
   * expired token still counts (RP-Initiated Logout 1.0 §2: the hint of a session may well have
   * expired by the time the user logs out); one issued in the future does not.
   */
  async verifyHint(token: string): Promise<IdTokenHint | null> {
    if (!looksLikeJwt(token)) return null;
    try {
      const { kid, typ } = decodeProtectedHeader(token);
      if (typ !== ID_TOKEN_TYP || typeof kid !== 'string') return null;
      const key = this.keys.verifyKey(kid);
      if (!key) return null;
      // compactVerify checks the signature only: jwtVerify would refuse an expired token.
      const { payload } = await compactVerify(token, key, { algorithms: [SIGNING_ALG] });
      const claims: unknown = JSON.parse(new TextDecoder().decode(payload));
      if (typeof claims !== 'object' || claims === null) return null;
      const { iss, sub, aud, iat, exp, sid } = claims as Record<string, unknown>;
      if (iss !== this.issuer || typeof sub !== 'string' || sub === '' || typeof aud !== 'string' || aud === '') return null;
      if (typeof iat !== 'number' || typeof exp !== 'number' || iat > seconds(new Date()) + CLOCK_SKEW_S) return null;
      if (sid !== undefined && typeof sid !== 'string') return null;
      return { sub, clientId: aud, sessionId: sid ?? null };
    } catch (error) {
      if (error instanceof errors.JOSEError || error instanceof TypeError || error instanceof SyntaxError) return null;
      throw error;
    }
  }
}
