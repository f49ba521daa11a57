// Authorization codes (RFC 6749 §4.1), stored by digest.
import type { AuthorizationCodeRecord, NewAuthorizationCode } from '../records.js';
import type { Db } from './dialect.js';
import { GroupCommit } from './group-commit.js';

export class CodeStore {
  /** /authorize with a live session issues a code per request, no page in between: concurrent saves share one commit. */
  private readonly saves: GroupCommit<NewAuthorizationCode, undefined>;

  constructor(private readonly db: Db) {
    this.saves = new GroupCommit(async (codes) => {
      await this.db.authorizationCode.createMany({ data: codes });
      return codes.map(() => undefined);
    });
  }

  /** Resolves once the code is committed. */
  save(code: NewAuthorizationCode): Promise<void> {
    return this.saves.write(code);
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
