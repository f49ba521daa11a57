// RFC 7591 initial access tokens (what gates POST /register) and RFC 7592 registration access
// tokens (what a dynamically registered client presents to manage itself). Both are random
// opaque tokens stored as SHA-256 digests; they are compared by looking the digest up (initial)
// or in constant time against the client's (registration).
import type { ClientRecord, InitialAccessTokenRecord } from '../records.js';
import type { InitialAccessTokenStore } from '../store/initial-access-tokens.js';
import { sameSecret } from '../tokens/constant-time.js';
import { hasOpaqueShape, INITIAL_ACCESS_TOKEN_PREFIX, newOpaqueToken, REGISTRATION_TOKEN_PREFIX, tokenDigest } from '../tokens/opaque.js';
import { AdminError } from './errors.js';

/** Default and longest lifetime of an initial access token. */
export const DEFAULT_INITIAL_TOKEN_TTL = 86_400;
export const MAX_INITIAL_TOKEN_TTL = 366 * 86_400;
export const MAX_INITIAL_TOKEN_USES = 1_000_000;

export class RegistrationTokens {
  constructor(private readonly store: InitialAccessTokenStore) {}

  /** A new initial access token, shown once. */
  async createInitial(options: { ttl?: number; maxUses?: number | null }): Promise<{ token: string; record: InitialAccessTokenRecord }> {
    const ttl = options.ttl ?? DEFAULT_INITIAL_TOKEN_TTL;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_INITIAL_TOKEN_TTL)
      throw new AdminError(`--ttl must be a whole number of seconds from 1 to ${MAX_INITIAL_TOKEN_TTL}`);
    const maxUses = options.maxUses ?? null;
    if (maxUses !== null && (!Number.isInteger(maxUses) || maxUses < 1 || maxUses > MAX_INITIAL_TOKEN_USES))
      throw new AdminError(`--max-uses must be a whole number from 1 to ${MAX_INITIAL_TOKEN_USES}`);
    const token = newOpaqueToken(INITIAL_ACCESS_TOKEN_PREFIX);
    const record = await this.store.create({ digest: tokenDigest(token), expiresAt: new Date(Date.now() + ttl * 1000), maxUses });
    return { token, record };
  }

  /** Counts one registration against the token; false if it is unknown, expired or used up. */
  async useInitial(token: string): Promise<boolean> {
    if (!hasOpaqueShape(token, INITIAL_ACCESS_TOKEN_PREFIX)) return false;
    return this.store.use(tokenDigest(token), new Date());
  }

  /** A new registration access token for a client, and the digest to keep. */
  newRegistrationToken(): { token: string; digest: string } {
    const token = newOpaqueToken(REGISTRATION_TOKEN_PREFIX);
    return { token, digest: tokenDigest(token) };
  }

  /** Whether `token` is the client's registration access token. */
  matchesRegistrationToken(client: ClientRecord, token: string): boolean {
    if (client.registrationTokenDigest === null || !hasOpaqueShape(token, REGISTRATION_TOKEN_PREFIX)) return false;
    return sameSecret(tokenDigest(token), client.registrationTokenDigest);
  }
}
