// The results of tokens verified before, in at most `maxEntries` entries, none answered past its
// expiry. Two generations of half the size each stand in for a strict LRU order: an entry read
// from the older one moves to the newer one, and when the newer one is full it becomes the older
// one and the older one is dropped whole. Every operation is a Map lookup (evicting one entry at a
// time from the front of a Map, `keys().next()`, walks over the deleted slots V8 leaves there).
//
// An entry is filed under the token's last characters — random in every token (a JWT's signature,
// an opaque token's secret part) — rather than the whole token: hashing a whole JWT for every
// lookup would cost about as much as the rest of a cached answer. The entry keeps its token, and
// only that exact token is answered from it.

export interface Cached {
  /** The token whose result this is. */
  readonly token: string;
  /** When the entry stops being answered, in ms since the epoch. */
  readonly expiresAtMs: number;
}

const KEY_CHARS = 40;
const keyOf = (token: string) => (token.length > KEY_CHARS ? token.slice(-KEY_CHARS) : token);

export class ResultCache<V extends Cached> {
  private newer = new Map<string, V>();
  private older = new Map<string, V>();
  private readonly generationSize: number;

  constructor(maxEntries: number) {
    this.generationSize = Math.max(1, Math.floor(maxEntries / 2));
  }

  get(token: string, nowMs: number): V | undefined {
    const key = keyOf(token);
    const entry = this.newer.get(key);
    if (entry !== undefined) {
      if (entry.token !== token) return undefined;
      if (entry.expiresAtMs > nowMs) return entry;
      this.newer.delete(key);
      return undefined;
    }
    const old = this.older.get(key);
    if (old === undefined || old.token !== token) return undefined;
    this.older.delete(key);
    if (old.expiresAtMs <= nowMs) return undefined;
    this.add(key, old);
    return old;
  }

  set(value: V): void {
    const key = keyOf(value.token);
    this.older.delete(key);
    this.add(key, value);
  }

  /** Drops every entry `doomed` says so of. */
  deleteWhere(doomed: (value: V) => boolean): void {
    for (const generation of [this.newer, this.older]) {
      for (const [key, value] of generation) if (doomed(value)) generation.delete(key);
    }
  }

  clear(): void {
    this.newer.clear();
    this.older.clear();
  }

  private add(key: string, value: V): void {
    this.newer.set(key, value);
    if (this.newer.size < this.generationSize) return;
    this.older = this.newer;
    this.newer = new Map();
  }
}
