// The benchmark's measurements for services that trust Tessera (scripts/bench.ts runs them): the
// revocation stream's delivery to many listeners, and @tessera/verify against jose.jwtVerify.
// Both run in the bench's own process against the server it started.
import { performance } from 'node:perf_hooks';
import { createVerifier } from '@tessera/verify';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { openStream, type SseStream } from '../test/helpers/sse.ts';

export interface Credentials {
  id: string;
  secret: string;
}

const basic = ({ id, secret }: Credentials) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** `count` listeners on GET /revocations, each synced (caught up) before this resolves. */
export async function openListeners(url: string, client: Credentials, count: number): Promise<SseStream[]> {
  const streams = await Promise.all(
    Array.from({ length: count }, () => openStream(`${url}/revocations`, { headers: { authorization: basic(client) } })),
  );
  await Promise.all(streams.map((s) => s.next((e) => e.event === 'synced', 30_000)));
  return streams;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/**
 * Revokes `tokens` one after another and measures, for every listener, how long after the /revoke
 * request went out its event arrived. Returns the delays' p50, p99 and maximum in ms.
 */
export async function deliveryDelays(url: string, revoker: Credentials, tokens: string[], listeners: SseStream[]) {
  const delays: number[] = [];
  for (const token of tokens) {
    const jti = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
    const marks = listeners.map((l) => l.events.length);
    const sent = Date.now();
    const revoked = await fetch(`${url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(revoker) },
      body: new URLSearchParams({ token }),
    });
    if (!revoked.ok) throw new Error(`revoke failed: ${revoked.status}`);
    const heard = await Promise.all(
      listeners.map((l, i) => l.next((e) => e.event === 'revocation' && e.data.includes(jti), 10_000, marks[i])),
    );
    delays.push(...heard.map((e) => e.receivedAt - sent));
  }
  delays.sort((a, b) => a - b);
  return { samples: delays.length, p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays.at(-1) ?? NaN };
}

/** Milliseconds `verify` takes over every token, one after another. */
async function timed(tokens: string[], verify: (token: string) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (const token of tokens) await verify(token);
  return performance.now() - started;
}

/**
 * The kit's verify() against jose.jwtVerify with the same key in this process: for JWTs new to it
 * (each round a new verifier, set up outside the timed part, so every token is new to it) and for
 * JWTs it has verified before (its cache). The jose and the fresh-kit rounds alternate, after one
 * of each unmeasured, so that both are measured warm and under the same conditions.
 */
export async function kitRates(issuer: string, listener: Credentials, tokens: string[], seconds: number) {
  const { keys } = (await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
  const { kid } = decodeProtectedHeader(tokens[0]!);
  const key = await importJWK(
    keys.find((k) => k.kid === kid)!,
    'ES256',
  );
  const joseVerify = (token: string) => jwtVerify(token, key, { issuer, typ: 'at+jwt', algorithms: ['ES256'] });
  const options = { issuer, introspection: { clientId: listener.id, clientSecret: listener.secret } };
  const [first, ...rest] = tokens;
  const freshRound = async () => {
    const verifier = createVerifier(options);
    await verifier.verify(first!); // discovery, keys and the revocation stream: set-up, not timed
    const ms = await timed(rest, (token) => verifier.verify(token));
    verifier.close();
    return ms;
  };
  await timed(rest, joseVerify);
  await freshRound();
  let joseMs = 0;
  let freshMs = 0;
  let rounds = 0;
  while (joseMs + freshMs < seconds * 2000) {
    joseMs += await timed(rest, joseVerify);
    freshMs += await freshRound();
    rounds++;
  }
  const verifier = createVerifier(options);
  await timed(tokens, (token) => verifier.verify(token));
  let seenMs = 0;
  let seenRounds = 0;
  while (seenMs < seconds * 1000) {
    seenMs += await timed(tokens, (token) => verifier.verify(token));
    seenRounds++;
  }
  verifier.close();
  const perSecond = (count: number, ms: number) => count / (ms / 1000);
  return {
    jose: perSecond(rest.length * rounds, joseMs),
    fresh: perSecond(rest.length * rounds, freshMs),
    seen: perSecond(tokens.length * seenRounds, seenMs),
  };
}
