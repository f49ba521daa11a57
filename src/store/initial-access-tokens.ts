// RFC 7591 initial access tokens: stored by digest, with an expiry and an optional number of uses.
import type { InitialAccessTokenRecord } from '../records.js';
import type { Db } from './dialect.js';

export class InitialAccessTokenStore {
  constructor(private readonly db: Db) {}

  async create(token: Omit<InitialAccessTokenRecord, 'uses' | 'createdAt'>): Promise<InitialAccessTokenRecord> {
    return this.db.initialAccessToken.create({ data: token });
  }

  /**
   * Counts one use of the token if it is still good at `now`: one conditional UPDATE, so that of
   * concurrent registrations no more than `maxUses` succeed, on any number of instances.
   */
  async use(digest: string, now: Date): Promise<boolean> {
    const unlimited = await this.db.initialAccessToken.updateMany({
      where: { digest, expiresAt: { gt: now }, maxUses: null },
      data: { uses: { increment: 1 } },
    });
    if (unlimited.count > 0) return true;
    const row = await this.db.initialAccessToken.findUnique({ where: { digest } });
    if (!row || row.maxUses === null || row.expiresAt <= now || row.uses >= row.maxUses) return false;
    const counted = await this.db.initialAccessToken.updateMany({
      where: { digest, expiresAt: { gt: now }, uses: row.uses },
      data: { uses: { increment: 1 } },
    });
    // Another registration counted this use first: look again (it may have been the last).
    return counted.count > 0 ? true : this.use(digest, now);
  }
}
