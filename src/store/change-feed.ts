// How instances sharing one database tell each other about changes their caches must honour
// (revocations, deactivations, deletions, key rotations).
//
// Every change is written as a ChangeEvent row in the same transaction as the change itself, so
// no change is ever announced without happening, nor happens unannounced. How the others hear of
// it is the dialect's (src/store/dialects/): PostgreSQL notifies at commit (LISTEN/NOTIFY), SQLite
// processes read new rows every changePollMs. Either way an instance honours another's change
// within one second, and its own at once.
import type { Prisma } from '../generated/sqlite/client.ts';
import type { Change, ChangeListener } from './changes.js';
import type { Db, DialectModule, FeedOptions } from './dialect.js';
import type { RevocationFact } from './revocations.js';

export class ChangeFeed {
  private listener: ChangeListener | undefined;
  private stopFollowing: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Db,
    private readonly dialect: DialectModule,
    private readonly options: FeedOptions,
  ) {}

  /**
   * Runs a change's writes and records the change in one transaction, then applies it to this
   * instance's caches at once.
   */
  async commit(writes: Prisma.PrismaPromise<unknown>[], changes: Change[], revoked: RevocationFact[] = []): Promise<void> {
    // What a change revokes goes to the revocation log, in the same transaction, for the stream.
    const announced = revoked.length > 0 ? [...changes, { kind: 'revocation' as const, subject: '' }] : changes;
    const log = revoked.length > 0 ? [...this.dialect.orderRevocations(this.db), this.db.revocation.createMany({ data: revoked })] : [];
    await this.db.$transaction([...log, ...writes, this.recorded(this.db, announced), ...this.dialect.announce(this.db, announced)]);
    this.applied(announced);
  }

  /**
   * commit for a bulk change (an import): its writes run one after another in an interactive
   * transaction of up to `timeoutMs`, so the process goes on serving between them — a batch
   * that large would hold the event loop while Prisma compiles it.
   */
  async commitInSteps(steps: ((tx: Db) => Promise<unknown>)[], changes: Change[], timeoutMs: number): Promise<void> {
    await this.db.$transaction(
      async (tx) => {
        // The interactive client is the same API, minus what cannot run inside a transaction.
        const inTransaction = tx as Db;
        for (const step of steps) await step(inTransaction);
        await this.recorded(inTransaction, changes);
        for (const announce of this.dialect.announce(inTransaction, changes)) await announce;
      },
      { timeout: timeoutMs, maxWait: 10_000 },
    );
    this.applied(changes);
  }

  private recorded(db: Db, changes: Change[]) {
    return db.changeEvent.createMany({ data: changes.map((c) => ({ kind: c.kind, subject: c.subject })) });
  }

  private applied(changes: Change[]): void {
    for (const change of changes) this.listener?.onChange(change);
  }

  async subscribe(listener: ChangeListener): Promise<void> {
    this.listener = listener;
    this.stopFollowing = await this.dialect.follow(this.db, listener, this.options);
  }

  async stop(): Promise<void> {
    await this.stopFollowing?.();
  }
}
