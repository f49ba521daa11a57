// For the tests of @tessera/verify (test/verify-kit*.test.ts, test/examples.test.ts): a Tessera
// listening on a real port, since the kit speaks real HTTP to its issuer, and verifiers closed at
// the test's end.
import type { Test } from 'tap';
import { createVerifier, type Verifier, type VerifierOptions } from '@tessera/verify';
import { startTessera, tokenRequest, type Running } from './harness.ts';
import { freePort } from './server-process.ts';

export interface Listening extends Running {
  /** The issuer, which is also where the server listens: http://127.0.0.1:<port>. */
  issuer: string;
}

export async function listeningTessera(t: Test, env: Record<string, string> = {}): Promise<Listening> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const running = await startTessera(t, { env: { TESSERA_ISSUER: issuer, ...env } });
  await running.app.listen({ port, host: '127.0.0.1' });
  return { ...running, issuer };
}

/** A verifier closed when the test ends. */
export function verifierFor(t: Test, options: VerifierOptions): Verifier {
  const verifier = createVerifier(options);
  t.teardown(() => verifier.close());
  return verifier;
}

/** An access token by client_credentials. */
export async function accessToken(server: Running, client: { id: string; secret?: string }, scope?: string): Promise<string> {
  const res = await tokenRequest(server.app, client, { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) });
  if (res.statusCode !== 200) throw new Error(`token request: ${res.statusCode} ${res.body}`);
  return res.body_.access_token as string;
}

/** Polls `check` every 50 ms until it holds; false if it still does not after `ms`. */
export async function within(ms: number, check: () => Promise<boolean> | boolean): Promise<boolean> {
  for (const deadline = Date.now() + ms; ;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The error a promise rejects with (undefined if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}
