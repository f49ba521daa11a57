// Comparing secrets (client secret digests, CSRF values, PKCE challenges) without leaking, through
// timing, how much of a guess was right.
import { timingSafeEqual } from 'node:crypto';

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
