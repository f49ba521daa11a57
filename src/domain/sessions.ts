// Single sign-on: a sign-in on the /authorize page starts a browser session (cookie
// tessera_session), and while it lives /authorize answers any client of this issuer without asking
// for the password again. The cookie holds 256 random bits; the database keeps only their SHA-256.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { SessionRecord, UserRecord } from '../records.js';
import { LoadingCache } from '../store/read-cache.js';
import type { SessionStore } from '../store/sessions.js';
import type { Users } from './users.js';

/** 32 random bytes, base64url: anything else is no cookie of ours and costs no database read. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
/**
 * A use is written at most this often (so /authorize with a session is usually answered from
 * memory), and at most a tenth of the idle lifetime: a session in use never idles out for want of
 * a write.
 */
const TOUCH_INTERVAL_MS = 60_000;
const CACHED_SESSIONS = 50_000;
const CACHED_MISSES = 1_000;

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

/** What the sessions cache holds for a digest that names a session that can never be live again. */
const DEAD = 'dead';

export class Sessions {
  private readonly touchIntervalMs: number;
  /**
   * Sessions by digest, or DEAD once the database has said a session is over (ended, idle or past
   * its absolute end: none ever lives again, SessionStore.touch sees to it), or null for no row. A
   * session ended elsewhere is evicted by the change feed (at once here, within a second on other
   * instances); its user's state is read from the users cache on every use; and a cached session
   * that looks idle is read again before it is declared so, since another instance may have
   * recorded a use since this one read it.
   */
  private readonly cached: LoadingCache<SessionRecord | typeof DEAD | null>;

  constructor(
    private readonly store: SessionStore,
    private readonly users: Pick<Users, 'activeById'>,
    private readonly settings: SessionSettings,
  ) {
    this.touchIntervalMs = Math.min(TOUCH_INTERVAL_MS, (settings.idleSeconds * 1000) / 10);
    this.cached = new LoadingCache(CACHED_SESSIONS, CACHED_MISSES, async (digest) => {
      const record = await store.byDigest(digest);
      return record && this.over(record, Date.now()) ? DEAD : record;
    });
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
    const digest = digestOf(value);
    let record = await this.cached.get(digest);
    if (record && record !== DEAD && this.over(record, Date.now())) record = await this.cached.reload(digest);
    if (!record || record === DEAD) return null;
    const user = await this.users.activeById(record.userId);
    if (!user || (user.tokensValidAfter && record.authTime.getTime() <= user.tokensValidAfter.getTime())) return null;
    const now = Date.now();
    if (now - record.lastSeenAt.getTime() < this.touchIntervalMs) return { record, user };
    // The use is recorded, and the cached session updated in place (unless it ended meanwhile).
    const lastSeenAt = new Date(now);
    const live = record;
    const touched = await this.cached.reload(digest, async () =>
      (await this.store.touch(live.id, lastSeenAt, this.settings.idleSeconds)) ? { ...live, lastSeenAt } : DEAD,
    );
    return touched && touched !== DEAD ? { record: touched, user } : null;
  }

  /** Ends a session and every refresh family its sign-in started (and their access tokens). */
  async end(session: Pick<SessionRecord, 'id' | 'digest'>): Promise<void> {
    await this.store.end(session);
  }

  /**
   * Ends the session with this id (a logout names its session by the ID token's `sid`) and every
   * refresh family it started, if they are `userId`'s. A session pruned already (past its absolute
   * end) may have left families that live on: they end too. Nothing for another user's session.
   */
  async endOwnedBy(sessionId: string, userId: string): Promise<void> {
    const record = await this.store.byId(sessionId);
    if (record && record.userId !== userId) return;
    await this.store.end({ id: sessionId, digest: record?.digest ?? null }, userId);
  }

  /**
   * Whether the session has ended, read from the database (not the cache, which another instance's
   * logout reaches only within a second): a code exchanged under an ended session starts no family.
   */
  isEnded(sessionId: string): Promise<boolean> {
    return this.store.isEnded(sessionId);
  }

  /** The change feed says a session ended (by its digest). */
  forget(digest: string): void {
    this.cached.evict(digest);
  }

  /** The change feed may have missed changes: nothing cached can be trusted. */
  forgetAll(): void {
    this.cached.clear();
  }

  /** Ended, idle or past its absolute end. */
  private over(record: SessionRecord, now: number): boolean {
    return (
      record.endedAt !== null || now >= record.expiresAt.getTime() || now >= record.lastSeenAt.getTime() + this.settings.idleSeconds * 1000
    );
  }
}
