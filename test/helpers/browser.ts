// What the browser tests share: Debian's Chromium driven by playwright-core (no browser download),
// a real listening Tessera for it to talk to, and a relying party's redirect target.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import type { Test } from 'tap';
import { startTessera, type Running } from './harness.ts';
import { freePort } from './server-process.ts';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Why the browser tests cannot run here, or false. Without Chromium they are skipped, loudly;
 * under CI=true (.ci/run installs it) they always run, so a missing browser fails them instead of
 * hiding them.
 */
export function chromiumSkip(): string | false {
  if (process.env.CI === 'true' || existsSync(CHROMIUM)) return false;
  return `SKIPPED: no ${CHROMIUM} (apt-get install chromium)`;
}

/** Chromium, closed when the test ends. Each test opens its own contexts (cookie jars) in it. */
export async function launchChromium(t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Headless in a container: no sandbox (no user namespaces), and nothing that phones home.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * A relying party's redirect target: a tiny server that shows what it received on any path.
 * Returns its origin (`http://127.0.0.1:PORT`).
 */
export async function callbackServer(t: Test): Promise<string> {
  const server = createServer((req, res) => res.end(`callback ${req.url}`)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.teardown(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A Tessera listening on a real port, its issuer `http://localhost:PORT` (a browser reaches it
 * under the issuer's URL, as the contract requires).
 */
export async function listeningTessera(t: Test, env: Record<string, string> = {}): Promise<Running & { issuer: string }> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const running = await startTessera(t, { env: { TESSERA_ISSUER: issuer, ...env } });
  await running.app.listen({ port, host: '127.0.0.1' });
  return { ...running, issuer };
}
