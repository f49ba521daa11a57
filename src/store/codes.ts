// Authorization codes (RFC 6749 §4.1), stored by digest.
import type { AuthorizationCodeRecord, NewAuthorizationCode } from '../records.js';
import type { Db } from './dialect.js';

export class CodeStore {
  constructor(private readonly db: Db) {}

  async save(code: NewAuthorizationCode): Promise<void> {
    await this.db.authorizationCode.create({ data: code });
  }

  find(digest: string): Promise<AuthorizationCodeRecord | null> {
    return this.db.authorizationCode.findUnique({ where: { digest } });
  }

  /** Uses the code for `grantId`; of concurrent uses, only one gets true. */
  async consume(digest: string, grantId: string): Promise<boolean> {
    const { count } = await this.db.authorizationCode.updateMany({
      where: { digest, consumedAt: null },
      data: { consumedAt: new Date(), grantId },
    });
    return count === 1;
  }
}
