// The changes that instances sharing a database announce to each other (see change-feed.ts).

// 'revocation': new rows in the revocation log (src/store/revocations.ts) for the stream to send.
// 'created': rows were created in bulk (an import) under keys a cache may remember as missing.
// 'session': a browser session ended (its subject: the cookie's digest, the key it is cached by).
export type ChangeKind = 'user' | 'client' | 'grant' | 'access' | 'jwt' | 'keys' | 'revocation' | 'created' | 'session';

export interface Change {
  kind: ChangeKind;
  subject: string;
}

export interface ChangeListener {
  onChange(change: Change): void;
  /** Changes may have been missed: forget everything cached. */
  onReset(): void;
}

const KINDS = new Set<string>(['user', 'client', 'grant', 'access', 'jwt', 'keys', 'revocation', 'created', 'session']);

/** A change read back from the database or a notification; null for a kind this version does not know. */
export function decodeChange(kind: string, subject: string): Change | null {
  return KINDS.has(kind) ? { kind: kind as ChangeKind, subject } : null;
}
