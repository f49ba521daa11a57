// The sign-in page in a real browser: Debian's Chromium, driven by playwright-core (no browser
// download). Skipped, loudly, where /usr/bin/chromium is not installed (`apt-get install chromium`).
import t from 'tap';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';

const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT = join(tmpdir(), 'tessera-login-page.png');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

t.test(
  'sign in through the login page in Chromium',
  { skip: existsSync(CHROMIUM) ? false : `SKIPPED: no ${CHROMIUM} (apt-get install chromium)` },
  async (t) => {
    // The client's redirect target: a tiny server that shows what it received.
    const callback = createServer((req, res) => res.end(`callback ${req.url}`)).listen(0, '127.0.0.1');
    await new Promise((r) => callback.once('listening', r));
    t.teardown(() => new Promise((r) => callback.close(r)));
    const redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;

    const port = await freePort();
    const { app, tessera } = await startTessera(t, { env: { TESSERA_ISSUER: `http://localhost:${port}` } });
    await app.listen({ port, host: '127.0.0.1' });
    const { username, password } = await registerUser(tessera, 'alice', 'correct horse battery staple');
    const spa = await registerClient(tessera, { name: 'Example Notes', public: true, redirectUris: [redirectUri], scopes: ['notes:read'] });
    const { verifier, challenge } = pkcePair();

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
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
    const page = await browser.newPage();
    const authorize = `http://localhost:${port}/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: spa.id,
      redirect_uri: redirectUri,
      state: 'st4te',
      scope: 'notes:read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    })}`;
    await page.goto(authorize);
    t.equal(await page.title(), 'Sign in');
    t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // A first, wrong attempt: the page says so, accessibly, and keeps the username.
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    t.match(await page.getByRole('alert').textContent(), /not right/);
    t.equal(await page.getByLabel('Username').inputValue(), username);

    // Then by keyboard alone: focus starts in the username field, Tab to the password, Enter submits.
    await page.getByLabel('Username').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await Promise.all([page.waitForURL(/\/callback\?/), page.keyboard.press('Enter')]);
    const url = new URL(page.url());
    t.equal(url.searchParams.get('state'), 'st4te');
    const code = url.searchParams.get('code')!;
    t.match(code, /^tsc_/);

    const tokens = await tokenRequest(app, spa, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    });
    t.equal(tokens.statusCode, 200, 'the code is exchanged for tokens');
    t.equal(tokens.body_.scope, 'notes:read');
  },
);
