// Throttling of password checks (the login form and the password grant alike), per username and
// per client address: after MAX_FAILURES failures within WINDOW, every attempt for that username
// or address is refused until the window ends — even with the right password, so that the
// refusal reveals nothing. Successful sign-ins cost nothing against the limit.
// The limit holds under concurrency because an attempt is counted *before* its password is
// checked (one atomic increment per key), and a check that succeeds gives its count back: of any
// number of simultaneous attempts, at most MAX_FAILURES are ever checked.
// Written here rather than with @fastify/rate-limit: that limits requests, whereas this must count
// only failures, per username as well as per address, in a store every instance shares.
import type { ThrottleStore } from '../store/throttle.js';

export const MAX_FAILURES = 10;
export const WINDOW_MS = 15 * 60_000;

/** Too many failed attempts: no password is checked until `retryAfter` (whole seconds) has passed. */
export class ThrottledError extends Error {
  constructor(readonly retryAfter: number) {
    super('Too many failed sign-in attempts; try again later');
  }
}

export class LoginThrottle {
  constructor(private readonly store: ThrottleStore) {}

  private keys(username: string, address: string): string[] {
    return [`user:${username.toLowerCase()}`, `ip:${address}`];
  }

  /**
   * Runs `check` (a password check: the user, or null on failure) as one counted attempt for the
   * username and the address; throws ThrottledError, without running it, when either has used up
   * its window.
   */
  async attempt<T>(username: string, address: string, check: () => Promise<T | null>, now = new Date()): Promise<T | null> {
    const keys = this.keys(username, address);
    const floor = new Date(now.getTime() - WINDOW_MS);
    const counted = await Promise.all(keys.map((key) => this.store.countAttempt(key, now, floor)));
    const over = counted.filter(({ attempts }) => attempts > MAX_FAILURES);
    if (over.length > 0) {
      await this.uncount(keys);
      const until = Math.max(...over.map(({ windowStart }) => windowStart.getTime() + WINDOW_MS));
      throw new ThrottledError(Math.max(1, Math.ceil((until - now.getTime()) / 1000)));
    }
    let result: T | null;
    try {
      result = await check();
    } catch (error) {
      // Not a failed password (the database, say): nothing was learnt, so nothing is held against it.
      await this.uncount(keys).catch(() => {});
      throw error;
    }
    if (result !== null) await this.uncount(keys);
    return result;
  }

  private uncount(keys: string[]): Promise<void> {
    return this.store.uncount(keys);
  }
}
