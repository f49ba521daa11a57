// Counters of failed password checks, one row per key ("user:alice", "ip:203.0.113.7").
import type { Db } from './dialect.js';

export class ThrottleStore {
  constructor(private readonly db: Db) {}

  /** The latest blockedUntil among `keys` that is still in the future, if any. */
  async blockedUntil(keys: string[], now: Date): Promise<Date | null> {
    const rows = await this.db.loginThrottle.findMany({
      where: { key: { in: keys }, blockedUntil: { gt: now } },
      select: { blockedUntil: true },
    });
    const times = rows.map((r) => r.blockedUntil!.getTime());
    return times.length ? new Date(Math.max(...times)) : null;
  }

  /**
   * Counts one failure for `key` in the window that started after `windowFloor`, or starts a new
   * window. Returns the failures in the window. The increment is a single UPDATE, so concurrent
   * failures on several instances all count.
   */
  async recordFailure(key: string, now: Date, windowFloor: Date): Promise<{ failures: number; windowStart: Date }> {
    const { count } = await this.db.loginThrottle.updateMany({
      where: { key, windowStart: { gt: windowFloor } },
      data: { failures: { increment: 1 } },
    });
    if (count === 0) {
      await this.db.loginThrottle.upsert({
        where: { key },
        create: { key, failures: 1, windowStart: now },
        update: { failures: 1, windowStart: now, blockedUntil: null },
      });
    }
    const row = await this.db.loginThrottle.findUniqueOrThrow({ where: { key } });
    return { failures: row.failures, windowStart: row.windowStart };
  }

  async block(key: string, until: Date): Promise<void> {
    await this.db.loginThrottle.update({ where: { key }, data: { blockedUntil: until } });
  }
}
