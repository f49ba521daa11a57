// Authorization codes (RFC 6749 §4.1), stored by digest.
import type { AuthorizationCodeRecord, NewAuthorizationCode } from '../records.js';
import type { Db } from './dialect.js';
import { GroupCommit } from './group-commit.js';
import type { HotPath } from './hot-path.js';

export class CodeStore {
  /**
   * /authorize with a live session issues a code per request, without a page in between: codes
   * are written by the hot path's raw statement, and concurrent saves share one commit.
   */
  private readonly saves: GroupCommit<NewAuthorizationCode, undefined>;

  constructor(
    private readonly db: Db,
    hotPath: HotPath,
  ) {
    this.saves = new GroupCommit(async (codes) => {
      await hotPath.insertCodes(codes);
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
