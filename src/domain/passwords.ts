// Password hashing with Argon2id at the OWASP recommendation (19 MiB, 2 passes, 1 lane).
import argon2 from 'argon2';
import { classifyDjangoHash, verifyDjangoPassword } from './django-passwords.js';
import { AdminError, UnavailableError } from './errors.js';

export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

/** What a new password must be; checked when one is set, never at sign-in. */
export function checkPasswordPolicy(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new AdminError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new AdminError(`password must be at most ${MAX_PASSWORD_LENGTH} characters`);
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

/** How every hash of Tessera's own begins; anything else stored as a password hash was imported from Django. */
const OWN_HASH_PREFIX = '$argon2id$';

let dummyHash: Promise<string> | undefined;

/**
 * Verifies a password against a hash: Tessera's own Argon2id, or one imported from Django
 * (django-passwords.ts). Without a hash (unknown user), or with one that cannot be verified
 * (unusable, legacy or malformed), it verifies against a dummy hash of the same cost and returns
 * false, so that these take the time of a wrong password.
 */
export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  if (hash?.startsWith(OWN_HASH_PREFIX)) return argon2.verify(hash, password).catch(() => false);
  if (hash !== undefined && classifyDjangoHash(hash).kind === 'supported') return verifyDjangoPassword(hash, password);
  dummyHash ??= argon2.hash('tessera-dummy-password', ARGON2_OPTIONS);
  await argon2.verify(await dummyHash, password).catch(() => false);
  return false;
}

/** true for any hash but Tessera's own Argon2id with the current ARGON2_OPTIONS: it is replaced at the next sign-in. */
export function needsRehash(hash: string): boolean {
  if (!hash.startsWith(OWN_HASH_PREFIX)) return true;
  try {
    return argon2.needsRehash(hash, ARGON2_OPTIONS);
  } catch {
    return true;
  }
}

/**
 * Bounds the password checks in flight. Argon2 runs on libuv's thread pool (4 threads by
 * default): more concurrent checks than threads only queue there, each holding 19 MiB, while a
 * burst of sign-ins would take every thread from other work. So at most `slots` run; up to
 * `queue` more wait their turn (a burst of N takes about N/slots × 25 ms); beyond that the
 * request is refused at once with 503 and Retry-After, rather than queued without bound.
 * Hand-written: the semaphore packages on npm either do not bound their queue or cannot refuse.
 */
export class PasswordCheckGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly slots = 4,
    private readonly queue = 64,
  ) {}

  async run<T>(check: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots) {
      if (this.waiting.length >= this.queue) throw new UnavailableError('Too many sign-ins at once; try again in a moment', 1);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await check();
    } finally {
      // The slot passes straight to the next in line, so `running` never drops below a busy count.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
