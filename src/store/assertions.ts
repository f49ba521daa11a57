// Client assertions already accepted (RFC 7523 §3, item 7): one row per "<client_id> <jti>" until
// the assertion expires, so that each is accepted once across every instance sharing the database.
import { GroupCommit } from './group-commit.js';
import type { HotPath, UsedAssertion } from './hot-path.js';

export class AssertionStore {
  /** Every client_credentials request with private_key_jwt writes one row: concurrent ones share a commit. */
  private readonly writes: GroupCommit<UsedAssertion, boolean>;

  constructor(hotPath: Pick<HotPath, 'recordAssertions'>) {
    this.writes = new GroupCommit(async (batch) => {
      // A batch may hold one key twice (a client racing itself): only the first can win.
      const first = new Map(batch.map((used, i) => [used.key, i] as const).reverse());
      const recorded = await hotPath.recordAssertions([...first.keys()].map((key) => batch[first.get(key)!]!));
      return batch.map((used, i) => first.get(used.key) === i && recorded.has(used.key));
    });
  }

  /**
   * Records `key` as used until `expiresAt`: true the first time, false if it was recorded before
   * (a replay). The primary key decides, so of concurrent attempts on any instances exactly one wins.
   */
  recordOnce(key: string, expiresAt: Date): Promise<boolean> {
    return this.writes.write({ key, expiresAt });
  }
}
