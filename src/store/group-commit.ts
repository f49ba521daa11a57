// Group commit: writes that arrive while a batch is being written are written together, in one
// transaction (one fsync), and each caller's promise settles only once its own write has
// committed, with its own result. Durability stays what it was; throughput under concurrency
// multiplies. One batch at a time: on this project's 2-core target, overlapping PostgreSQL
// batches measured slower (bench/RESULTS.md). Hand-written: no library does this, and it is a
// few lines.
import { databaseOutage } from './errors.js';

export class GroupCommit<T, R> {
  private pending: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  private running = false;

  /** writeMany writes the items in one transaction and answers one result per item, in order. */
  constructor(
    private readonly writeMany: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 500,
  ) {}

  write(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    // Let the requests already in this turn of the event loop join the first batch.
    await new Promise((r) => setImmediate(r));
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const results = await this.writeMany(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (error) {
        // An unreachable database fails every item alike, and one by one each would wait out its
        // own connection timeout.
        if (batch.length === 1 || databaseOutage(error)) {
          for (const p of batch) p.reject(error);
          continue;
        }
        // One bad item must not fail the others: write them one by one.
        for (const p of batch) {
          await this.writeMany([p.item]).then(([result]) => p.resolve(result!), p.reject);
        }
      }
    }
    this.running = false;
  }
}
