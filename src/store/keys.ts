// JWT signing keys. Private keys are stored encrypted (see src/tokens/keys.ts).
import type { SigningKeyRecord } from '../records.js';
import type { Db } from './dialect.js';
import type { ChangeFeed } from './change-feed.js';
import { accessTokensEndBy } from './revocations.js';

export class KeyStore {
  constructor(
    private readonly db: Db,
    private readonly feed: ChangeFeed,
  ) {}

  /** Keys still published: the signing key and retired keys whose tokens may not have expired. */
  published(now: Date): Promise<SigningKeyRecord[]> {
    return this.db.signingKey.findMany({
      where: { OR: [{ publishUntil: null }, { publishUntil: { gt: now } }] },
      orderBy: { createdAt: 'desc' },
    });
  }

  /**
   * Unpublishes a key at once (a compromised one): it leaves the key set and verifies nothing
   * more. False when there is no such key.
   */
  async revoke(kid: string): Promise<boolean> {
    const now = new Date();
    const published = { kid, OR: [{ publishUntil: null }, { publishUntil: { gt: now } }] };
    if ((await this.db.signingKey.count({ where: published })) === 0) return false;
    const exp = await accessTokensEndBy(this.db, now);
    await this.feed.commit(
      [this.db.signingKey.updateMany({ where: published, data: { retiredAt: now, publishUntil: now } })],
      [{ kind: 'keys', subject: kid }],
      [{ kid, at: exp, exp }],
    );
    return true;
  }

  /** Adds a key that signs from now on; every other signing key retires, published until publishUntil. */
  async rotateTo(key: Omit<SigningKeyRecord, 'createdAt' | 'retiredAt' | 'publishUntil'>, publishUntil: Date): Promise<void> {
    const now = new Date();
    await this.feed.commit(
      [
        this.db.signingKey.updateMany({ where: { retiredAt: null }, data: { retiredAt: now, publishUntil } }),
        this.db.signingKey.create({ data: { ...key, createdAt: now } }),
      ],
      [{ kind: 'keys', subject: key.kid }],
    );
  }
}
