// The sign-in page in a real browser: Debian's Chromium, driven by playwright-core (no browser
// download). Skipped, loudly, where /usr/bin/chromium is not installed (`apt-get install chromium`).
import t from 'tap';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callbackServer, chromiumSkip, launchChromium, listeningTessera } from './helpers/browser.ts';
import { registerClient, registerUser, tokenRequest } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';

export const SCREENSHOT = join(tmpdir(), 'tessera-login-page.png');

t.test('sign in through the login page in Chromium', { skip: chromiumSkip() }, async (t) => {
  const redirectUri = `${await callbackServer(t)}/callback`;
  const { app, tessera, issuer } = await listeningTessera(t);
  const { username, password } = await registerUser(tessera, 'alice', 'correct horse battery staple');
  const spa = await registerClient(tessera, { name: 'Example Notes', public: true, redirectUris: [redirectUri], scopes: ['notes:read'] });
  const { verifier, challenge } = pkcePair();

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  const authorize = `${issuer}/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: spa.id,
    redirect_uri: redirectUri,
    state: 'st4te',
    scope: 'notes:read',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })}`;
  await page.goto(authorize);
  t.equal(await page.title(), 'Sign in · Tessera');
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
});
