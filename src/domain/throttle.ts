// Throttling of password checks (the login form and the password grant alike), per username and
// per client address: after MAX_FAILURES failures within WINDOW, every check for that username or
// address is refused until the window ends — even with the right password, so that the refusal
// reveals nothing. Successful logins cost nothing extra.
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

  /** Throws ThrottledError while the username or the address is blocked. */
  async check(username: string, address: string, now = new Date()): Promise<void> {
    const until = await this.store.blockedUntil(this.keys(username, address), now);
    if (until) throw new ThrottledError(Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)));
  }

  async recordFailure(username: string, address: string, now = new Date()): Promise<void> {
    for (const key of this.keys(username, address)) {
      const { failures, windowStart } = await this.store.recordFailure(key, now, new Date(now.getTime() - WINDOW_MS));
      if (failures >= MAX_FAILURES) await this.store.block(key, new Date(windowStart.getTime() + WINDOW_MS));
    }
  }
}
