// Authorization codes (RFC 6749 §4.1), stored by digest.
import type { AuthorizationCodeRecord, NewAuthorizationCode } from '../records.js';
import type { Db } from './dialect.js';
import { GroupCommit } from './group-commit.js';
import type { CodeUse, HotPath } from './hot-path.js';

export class CodeStore {
  /**
   * /authorize with a live session issues a code per request, without a page in between: codes
   * are written by the hot path's raw statement, and concurrent saves share one commit.
   */
  private readonly saves: GroupCommit<NewAuthorizationCode, undefined>;
  /** Every sign-in's code is exchanged once: the exchanges' conditional updates share one commit too. */
  private readonly uses: GroupCommit<CodeUse, boolean>;

  constructor(
    private readonly db: Db,
    hotPath: HotPath,
  ) {
    this.saves = new GroupCommit(async (codes) => {
      await hotPath.insertCodes(codes);
      return codes.map(() => undefined);
    });
    this.uses = new GroupCommit(async (uses) => {
      // A client racing itself may send one code twice in a batch: only the first can win.
      const seen = new Set<string>();
      const distinct = uses.filter((use) => !seen.has(use.digest) && seen.add(use.digest));
      const results = await hotPath.consumeCodes(distinct, new Date());
      const won = new Set(distinct.filter((_, i) => results[i]));
      return uses.map((use) => won.has(use));
    });
  }

  /** Resolves once the code is committed. */
  save(code: NewAuthorizationCode): Promise<void> {
    return this.saves.write(code);
  }

  find(digest: string): Promise<AuthorizationCodeRecord | null> {
    return this.db.authorizationCode.findUnique({ where: { digest } });
  }

  /** Uses the code for `grantId`; of concurrent uses, only one gets true. Concurrent uses share one commit. */
  consume(digest: string, grantId: string): Promise<boolean> {
    return this.uses.write({ digest, grantId });
  }
}
