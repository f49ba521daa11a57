// Attempt counters of password checks, one row per key ("user:alice", "ip:203.0.113.7") and window.
import type { Db } from './dialect.js';
import { AlreadyExistsError, NotFoundError, translated } from './errors.js';

export class ThrottleStore {
  constructor(private readonly db: Db) {}

  /**
   * Counts one attempt for `key`, in a new window when the current one began at or before
   * `windowFloor`, and returns the count with its window's start. Each step is one atomic
   * statement, so that attempts made at the same moment, on any number of instances, all count
   * and each sees a different number.
   */
  async countAttempt(key: string, now: Date, windowFloor: Date): Promise<{ attempts: number; windowStart: Date }> {
    for (;;) {
      // The usual case first, one statement: the row exists and its window is current.
      try {
        const row = await translated(
          this.db.loginThrottle.update({ where: { key, windowStart: { gt: windowFloor } }, data: { attempts: { increment: 1 } } }),
        );
        return { attempts: row.attempts, windowStart: row.windowStart };
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
      const restarted = await this.db.loginThrottle.updateMany({
        where: { key, windowStart: { lte: windowFloor } },
        data: { attempts: 1, windowStart: now },
      });
      if (restarted.count === 1) return { attempts: 1, windowStart: now };
      try {
        await translated(this.db.loginThrottle.create({ data: { key, attempts: 1, windowStart: now } }));
        return { attempts: 1, windowStart: now };
      } catch (error) {
        // Another attempt created the row first: count on it.
        if (!(error instanceof AlreadyExistsError)) throw error;
      }
    }
  }

  /** Takes back an attempt on each key, that turned out not to be a failure. */
  async uncount(keys: string[]): Promise<void> {
    await this.db.loginThrottle.updateMany({ where: { key: { in: keys }, attempts: { gt: 0 } }, data: { attempts: { decrement: 1 } } });
  }
}
