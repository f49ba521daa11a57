// What the hot paths (/introspect, /token/verify, client authentication) read, held in memory so
// that a valid token is answered without a database round trip: bounded LRU caches of opaque
// access tokens (by digest), users, clients and grants, loaded from the database on a miss, and
// the whole (small) set of revoked-but-unexpired JWT ids. Keys found in no row (unknown client
// ids, made-up tokens) are remembered apart, in a small LRU of their own, so that a flood of them
// cannot push real entries out.
// Every change that could make a cached entry wrong arrives through the change feed
// (change-feed.ts) and evicts it: at once on the instance that made the change, within a second
// on every other.
import { LRUCache } from 'lru-cache';
import type { AccessTokenRecord, ClientRecord, GrantRecord, UserRecord } from '../records.js';
import type { Change } from './changes.js';
import type { ClientStore } from './clients.js';
import type { TokenStore } from './tokens.js';
import type { UserStore } from './users.js';

/**
 * A cache that loads on a miss. A load that started before its key was evicted is not cached: its
 * answer may predate the change that caused the eviction. Eviction is per key, so that one key's
 * change does not discard the loads of every other key in flight. A key the load found nothing for
 * (null) goes to the separate `misses` LRU, never among the entries.
 */
export class LoadingCache<V> {
  private readonly entries: LRUCache<string, { value: V }>;
  private readonly misses: LRUCache<string, { value: V }>;
  /** Per key, the newest load in flight: only it may store its answer, and an eviction withdraws it. */
  private readonly loading = new Map<string, symbol>();
  /** Advanced by clear and forgetMisses, which concern every key, withdrawing every load in flight. */
  private epoch = 0;

  constructor(
    max: number,
    maxMisses: number,
    private readonly load: (key: string) => Promise<V>,
  ) {
    this.entries = new LRUCache({ max });
    this.misses = new LRUCache({ max: maxMisses });
  }

  /** The value itself on a hit, a promise of it on a miss. */
  get(key: string): V | Promise<V> {
    const hit = this.entries.get(key) ?? this.misses.get(key);
    return hit ? hit.value : this.reload(key);
  }

  /**
   * Loads the key afresh (with `load`, or the cache's loader) and caches the answer, unless the key
   * is evicted meanwhile; until then the cached value stays.
   */
  async reload(key: string, load: () => Promise<V> = () => this.load(key)): Promise<V> {
    const token = Symbol(key);
    const epoch = this.epoch;
    this.loading.set(key, token);
    try {
      const value = await load();
      if (this.loading.get(key) === token && epoch === this.epoch) {
        this.entries.delete(key);
        this.misses.delete(key);
        (value === null ? this.misses : this.entries).set(key, { value });
      }
      return value;
    } finally {
      if (this.loading.get(key) === token) this.loading.delete(key);
    }
  }

  evict(key: string): void {
    this.loading.delete(key);
    this.entries.delete(key);
    this.misses.delete(key);
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
    this.misses.clear();
  }

  /** Keys found in no row may have one now; what was found stays. */
  forgetMisses(): void {
    this.epoch++;
    this.misses.clear();
  }
}

export interface CacheSizes {
  accessTokens: number;
  users: number;
  clients: number;
  grants: number;
  /** Per cache, how many keys that were found in no row are remembered (apart from the entries). */
  misses: number;
}

export const DEFAULT_CACHE_SIZES: CacheSizes = { accessTokens: 200_000, users: 50_000, clients: 10_000, grants: 100_000, misses: 1_000 };

export class ReadCache {
  readonly accessTokens: LoadingCache<AccessTokenRecord | null>;
  readonly users: LoadingCache<UserRecord | null>;
  readonly clients: LoadingCache<ClientRecord | null>;
  readonly grants: LoadingCache<GrantRecord | null>;
  private revokedJtis = new Map<string, number>();

  constructor(
    private readonly stores: { tokens: TokenStore; users: UserStore; clients: ClientStore },
    sizes: CacheSizes = DEFAULT_CACHE_SIZES,
  ) {
    this.accessTokens = new LoadingCache(sizes.accessTokens, sizes.misses, (digest) => stores.tokens.findAccessToken(digest));
    this.users = new LoadingCache(sizes.users, sizes.misses, (id) => stores.users.byId(id));
    this.clients = new LoadingCache(sizes.clients, sizes.misses, (id) => stores.clients.byId(id));
    this.grants = new LoadingCache(sizes.grants, sizes.misses, (id) => stores.tokens.findGrant(id));
  }

  async loadRevokedJwts(): Promise<void> {
    const rows = await this.stores.tokens.revokedJwts(new Date());
    this.revokedJtis = new Map(rows.map((r) => [r.jti, r.expiresAt.getTime()]));
  }

  isJwtRevoked(jti: string): boolean {
    return this.revokedJtis.has(jti);
  }

  /** Drops revoked JWT ids whose tokens have expired anyway. */
  forgetExpired(now = Date.now()): void {
    for (const [jti, exp] of this.revokedJtis) if (exp <= now) this.revokedJtis.delete(jti);
  }

  apply(change: Change): void {
    switch (change.kind) {
      case 'user':
        return this.users.evict(change.subject);
      case 'client':
        return this.clients.evict(change.subject);
      case 'grant':
        return this.grants.evict(change.subject);
      case 'access':
        return this.accessTokens.evict(change.subject);
      case 'jwt': {
        const [jti, exp] = change.subject.split(' ');
        if (jti) this.revokedJtis.set(jti, Number(exp) || Date.now() + 86_400_000);
        return;
      }
      case 'keys':
        return; // the composition root (src/tessera.ts) reloads the keys and drops verified JWTs
      case 'revocation':
        return; // for the revocation stream; what it revokes arrives as its own change
      case 'session':
        return; // the sessions' own cache (src/domain/sessions.ts), told by the composition root
      case 'created':
        for (const cache of [this.accessTokens, this.users, this.clients, this.grants]) cache.forgetMisses();
        return;
    }
  }

  async reset(): Promise<void> {
    for (const cache of [this.accessTokens, this.users, this.clients, this.grants]) cache.clear();
    await this.loadRevokedJwts();
  }
}
