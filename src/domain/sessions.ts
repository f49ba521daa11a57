// Single sign-on: a sign-in on the /authorize page starts a browser session (cookie
// tessera_session), and while it lives /authorize answers any client of this issuer without asking
// for the password again. The cookie holds 256 random bits; the database keeps only their SHA-256.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { SessionRecord, UserRecord } from '../records.js';
import type { SessionStore } from '../store/sessions.js';
import type { Users } from './users.js';

/** 32 random bytes, base64url: anything else is no cookie of ours and costs no database read. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
/**
 * A use is written at most this often (so /authorize with a session is usually a read only), and
 * at most a tenth of the idle lifetime: a session in use never idles out for want of a write.
 */
const TOUCH_INTERVAL_MS = 60_000;

export interface SessionSettings {
  /** The session ends when unused this long (TESSERA_SESSION_IDLE)… */
  idleSeconds: number;
  /** …and this long after it started in any case (TESSERA_SESSION_MAX). */
  maxSeconds: number;
}

/** A session that may be used now, and its user as they are now. */
export interface LiveSession {
  record: SessionRecord;
  user: UserRecord;
}

const digestOf = (value: string) => createHash('sha256').update(value).digest('hex');

export class Sessions {
  private readonly touchIntervalMs: number;

  constructor(
    private readonly store: SessionStore,
    private readonly users: Pick<Users, 'activeById'>,
    private readonly settings: SessionSettings,
  ) {
    this.touchIntervalMs = Math.min(TOUCH_INTERVAL_MS, (settings.idleSeconds * 1000) / 10);
  }

  /** A new session for a user who has just signed in: the cookie's value, and the stored record. */
  async start(userId: string, authTime: Date = new Date()): Promise<{ value: string; record: SessionRecord }> {
    const value = randomBytes(32).toString('base64url');
    const now = new Date();
    const row = {
      id: randomUUID(),
      digest: digestOf(value),
      userId,
      authTime,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + this.settings.maxSeconds * 1000),
    };
    await this.store.create(row);
    return { value, record: { ...row, endedAt: null } };
  }

  /**
   * The session a cookie value names, if it lives: not ended, before its absolute end, used within
   * the idle lifetime, its user active, and signed in after the user's last "end everything" (a
   * password change, a deactivation, a revocation of all their tokens). Otherwise null, for a
   * forged, foreign or expired value alike.
   */
  async find(value: string | undefined): Promise<LiveSession | null> {
    if (value === undefined || !COOKIE_VALUE.test(value)) return null;
    const record = await this.store.byDigest(digestOf(value));
    const now = Date.now();
    if (!record || !this.lives(record, now)) return null;
    const user = await this.users.activeById(record.userId);
    if (!user || (user.tokensValidAfter && record.authTime.getTime() <= user.tokensValidAfter.getTime())) return null;
    if (now - record.lastSeenAt.getTime() < this.touchIntervalMs) return { record, user };
    const lastSeenAt = new Date(now);
    await this.store.touch(record.id, lastSeenAt);
    return { record: { ...record, lastSeenAt }, user };
  }

  /** Ends a session and every refresh family its sign-in started (and their access tokens). */
  end(sessionId: string): Promise<void> {
    return this.store.end(sessionId);
  }

  /**
   * Ends the session with this id if it is `userId`'s and not ended yet (a logout names its session
   * by the ID token's `sid`); false when there is no such session.
   */
  async endOwnedBy(sessionId: string, userId: string): Promise<boolean> {
    const record = await this.store.byId(sessionId);
    if (!record || record.endedAt || record.userId !== userId) return false;
    await this.store.end(record.id);
    return true;
  }

  private lives(record: SessionRecord, now: number): boolean {
    return (
      record.endedAt === null && now < record.expiresAt.getTime() && now < record.lastSeenAt.getTime() + this.settings.idleSeconds * 1000
    );
  }
}
