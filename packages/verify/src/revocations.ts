// The revocations announced on the server's stream (GET /revocations) that still matter, and the
// rule that says which tokens one revokes: every field present in the event equals the token's, and
// the token was issued at or before the event's `at`. Kept until the event's `exp`, so that a JWT
// never seen before is refused too when it matches.

export const MATCHED_FIELDS = ['jti', 'sid', 'sub', 'client_id', 'kid'] as const;
type Field = (typeof MATCHED_FIELDS)[number];

export type RevocationEvent = { readonly [F in Field]?: string } & {
  /** Tokens issued at or before this instant (seconds since the epoch) are revoked. */
  readonly at: number;
  /** When every token it revokes has expired (seconds since the epoch). */
  readonly exp: number;
};

/** What of a verified token a revocation is compared with. */
export type TokenFacts = { readonly [F in Field]?: string | undefined } & { readonly iat: number };

export function revokes(event: RevocationEvent, token: TokenFacts): boolean {
  if (token.iat > event.at) return false;
  for (const field of MATCHED_FIELDS) {
    const value = event[field];
    if (value !== undefined && value !== token[field]) return false;
  }
  return true;
}

/** Expired events are swept out at most this often, on the next arrival. */
const SWEEP_EVERY_MS = 60_000;

/** The field an event is filed under: its first present one in MATCHED_FIELDS order. */
const filedUnder = (event: RevocationEvent): Field | undefined => MATCHED_FIELDS.find((field) => event[field] !== undefined);

export class RevocationSet {
  /** The events by their content: a replay after a reconnect repeats some. */
  private readonly events = new Map<string, RevocationEvent>();
  /**
   * The same events by the value of the field they are filed under (or in `all` when they name no
   * field), so that checking a token looks up its own few values instead of every event.
   */
  private readonly index = new Map<Field, Map<string, Set<RevocationEvent>>>(MATCHED_FIELDS.map((field) => [field, new Map()]));
  private readonly all = new Set<RevocationEvent>();
  private lastSweepMs = Date.now();

  /** Adds an event; false when it was known already. */
  add(event: RevocationEvent, nowMs = Date.now()): boolean {
    if (nowMs - this.lastSweepMs >= SWEEP_EVERY_MS) this.sweep(nowMs);
    const key = JSON.stringify([...MATCHED_FIELDS.map((field) => event[field] ?? null), event.at]);
    const known = this.events.get(key);
    if (known !== undefined && known.exp >= event.exp) return false;
    if (known !== undefined) this.unfile(known);
    this.events.set(key, event);
    this.file(event);
    return true;
  }

  /** True when a revocation still in force covers the token. */
  covers(token: TokenFacts): boolean {
    if (this.events.size === 0) return false;
    for (const event of this.all) if (revokes(event, token)) return true;
    for (const field of MATCHED_FIELDS) {
      const value = token[field];
      const filed = value === undefined ? undefined : this.index.get(field)!.get(value);
      if (filed !== undefined) for (const event of filed) if (revokes(event, token)) return true;
    }
    return false;
  }

  clear(): void {
    this.events.clear();
    this.all.clear();
    for (const byValue of this.index.values()) byValue.clear();
  }

  private file(event: RevocationEvent): void {
    this.bucketOf(event, true).add(event);
  }

  private unfile(event: RevocationEvent): void {
    const bucket = this.bucketOf(event, false);
    bucket.delete(event);
    const field = filedUnder(event);
    if (field !== undefined && bucket.size === 0) this.index.get(field)!.delete(event[field]!);
  }

  /** The set an event is filed in: `all` when it names no field, else the one for its first field's value. */
  private bucketOf(event: RevocationEvent, create: boolean): Set<RevocationEvent> {
    const field = filedUnder(event);
    if (field === undefined) return this.all;
    const byValue = this.index.get(field)!;
    const value = event[field]!;
    let bucket = byValue.get(value);
    if (bucket === undefined) {
      bucket = new Set();
      if (create) byValue.set(value, bucket);
    }
    return bucket;
  }

  /** Forgets the events past their `exp`: every token they revoke has expired. */
  private sweep(nowMs: number): void {
    this.lastSweepMs = nowMs;
    for (const [key, event] of this.events) {
      if (event.exp * 1000 > nowMs) continue;
      this.events.delete(key);
      this.unfile(event);
    }
  }
}
