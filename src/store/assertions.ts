// Client assertions already accepted (RFC 7523 §3, item 7): one row per "<client_id> <jti>" until
// the assertion expires, so that each is accepted once across every instance sharing the database.
import type { Db } from './dialect.js';
import { AlreadyExistsError, translated } from './errors.js';

export class AssertionStore {
  constructor(private readonly db: Db) {}

  /**
   * Records `key` as used until `expiresAt`: true the first time, false if it was recorded before
   * (a replay). The primary key decides, so of concurrent attempts on any instances exactly one wins.
   */
  async recordOnce(key: string, expiresAt: Date): Promise<boolean> {
    try {
      await translated(this.db.usedAssertion.create({ data: { key, expiresAt } }));
      return true;
    } catch (error) {
      if (error instanceof AlreadyExistsError) return false;
      throw error;
    }
  }
}
