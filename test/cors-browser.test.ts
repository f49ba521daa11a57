// CORS in a real browser (Debian's Chromium, playwright-core): a single-page application served
// from another origin than the issuer exchanges its code at /token with fetch() and reads the
// answer, and a browser client refreshes with its cookies (credentials: 'include') and X-CSRF-Token.
//
// The origins: the issuer is http://localhost:PORT. The first application runs on
// http://127.0.0.1:OTHER — another site altogether. The browser client runs on
// http://localhost:OTHER: another origin (another port) but the same site, since a site ignores
// ports; its refresh cookie is SameSite=Strict and is sent to the issuer only from the same site
// (from 127.0.0.1 the browser would withhold it, by design). Skipped, loudly, without Chromium.
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { callbackServer, chromiumSkip, launchChromium, listeningTessera } from './helpers/browser.ts';
import { registerClient, registerUser } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';

interface Fetched {
  status: number;
  body: Record<string, unknown> | null;
}

/** fetch() run by the page itself, in its origin: the answer as the page can read it, or the browser's refusal. */
async function fetchIn(
  page: Page,
  url: string,
  init: { body: Record<string, string>; json?: boolean; headers?: Record<string, string>; cookies?: boolean },
) {
  return page.evaluate(
    async ({ url, init }): Promise<Fetched | { refused: string }> => {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': init.json ? 'application/json' : 'application/x-www-form-urlencoded', ...init.headers },
          body: init.json ? JSON.stringify(init.body) : new URLSearchParams(init.body).toString(),
          credentials: init.cookies ? 'include' : 'same-origin',
        });
        const text = await response.text();
        return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
      } catch (error) {
        return { refused: String(error) };
      }
    },
    { url, init },
  );
}

t.test('CORS in Chromium: an application on another origin calls the token endpoints', { skip: chromiumSkip() }, async (t) => {
  const { tessera, issuer } = await listeningTessera(t);
  const crossSite = await callbackServer(t); // http://127.0.0.1:OTHER
  const sameSite = crossSite.replace('127.0.0.1', 'localhost'); // the same server, as http://localhost:OTHER
  const browser = await launchChromium(t);
  const { username, password } = await registerUser(tessera, 'alice', 'correct horse battery staple');

  /** Signs in on the issuer's page in a fresh browser profile; the page ends on the callback, in the application's origin. */
  async function signIn(t: Test, client: { id: string }, redirectUri: string, challenge: string): Promise<{ page: Page; code: string }> {
    const context = await browser.newContext();
    t.teardown(() => context.close());
    const page = await context.newPage();
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: client.id,
      redirect_uri: redirectUri,
      state: 's',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    await page.goto(`${issuer}/authorize?${query}`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await Promise.all([page.waitForURL(`${redirectUri}?**`), page.getByRole('button', { name: 'Sign in' }).click()]);
    return { page, code: new URL(page.url()).searchParams.get('code')! };
  }

  t.test('cross-site: the code exchange with fetch(), a JSON body (so a preflight first)', async (t) => {
    const redirectUri = `${crossSite}/spa/callback`;
    const spa = await registerClient(tessera, { name: 'SPA', public: true, redirectUris: [redirectUri], scopes: ['notes'] });
    const { verifier, challenge } = pkcePair();
    const { page, code } = await signIn(t, spa, redirectUri, challenge);
    t.equal(new URL(page.url()).origin, crossSite, 'the page runs in the application origin');
    const exchange = { grant_type: 'authorization_code', client_id: spa.id, code, code_verifier: verifier, redirect_uri: redirectUri };
    const answer = await fetchIn(page, `${issuer}/token`, { body: exchange, json: true });
    t.match(
      answer,
      { status: 200, body: { token_type: 'Bearer', access_token: /^tsa_/, refresh_token: /^tsr_/, scope: 'notes' } },
      'read by the page',
    );

    // The same request again: the code is used up, and the page can read why.
    const again = await fetchIn(page, `${issuer}/token`, { body: exchange });
    t.match(again, { status: 400, body: { error: 'invalid_grant' } }, 'an error is readable too');
  });

  t.test("another client's origin cannot read the answers", async (t) => {
    // Pages of http://localhost:OTHER are allowed for the browser client below, not for this one.
    const redirectUri = `${crossSite}/own/callback`;
    const own = await registerClient(tessera, { name: 'Own', public: true, redirectUris: [redirectUri], scopes: ['notes'] });
    await registerClient(tessera, { name: 'Neighbour', public: true, redirectUris: [`${sameSite}/neighbour/callback`] });
    const context = await browser.newContext();
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${sameSite}/neighbour`);
    const answer = await fetchIn(page, `${issuer}/token`, {
      body: {
        grant_type: 'authorization_code',
        client_id: own.id,
        code: 'tsc_x',
        code_verifier: pkcePair().verifier,
        redirect_uri: redirectUri,
      },
      json: true,
    });
    t.match(answer, { refused: /TypeError: Failed to fetch/ }, 'the browser withholds the answer');
  });

  t.test("same-site, cross-origin: a browser client's refresh with credentials: 'include'", async (t) => {
    const redirectUri = `${sameSite}/browser/callback`;
    const app = await registerClient(tessera, {
      name: 'Browser app',
      public: true,
      browser: true,
      redirectUris: [redirectUri],
      scopes: ['notes'],
    });
    const { verifier, challenge } = pkcePair();
    const { page, code } = await signIn(t, app, redirectUri, challenge);
    const exchange = { grant_type: 'authorization_code', client_id: app.id, code, code_verifier: verifier, redirect_uri: redirectUri };
    const tokens = await fetchIn(page, `${issuer}/token`, { body: exchange, cookies: true });
    t.match(tokens, { status: 200, body: { access_token: /^tsa_/ } });
    t.notOk((tokens as Fetched).body?.refresh_token, 'the refresh token is no business of script');

    const cookies = await page.context().cookies(`${issuer}/token`);
    t.ok(
      cookies.some((c) => c.name === 'tessera_refresh' && c.httpOnly && c.path === '/token' && c.sameSite === 'Strict'),
      'the refresh cookie was stored from the cross-origin answer',
    );
    // Cookies ignore ports: the page on localhost:OTHER reads the CSRF cookie the issuer set.
    const csrf = await page.evaluate(() => /(?:^|; )tessera_csrf=([^;]+)/.exec(document.cookie)?.[1] ?? null);
    t.ok(csrf, 'the page reads its CSRF value');
    t.notOk(await page.evaluate(() => document.cookie.includes('tessera_refresh')), 'but never the refresh token');

    const refreshed = await fetchIn(page, `${issuer}/token/refresh`, {
      body: { client_id: app.id },
      headers: { 'X-CSRF-Token': csrf! },
      cookies: true,
    });
    t.match(
      refreshed,
      { status: 200, body: { access_token: /^tsa_/, scope: 'notes' } },
      'refreshed with the cookie (after a preflight for X-CSRF-Token)',
    );
    t.not((refreshed as Fetched).body?.access_token, (tokens as Fetched).body?.access_token, 'a new access token');

    const signedOut = await fetchIn(page, `${issuer}/token/logout`, {
      body: { client_id: app.id },
      headers: { 'X-CSRF-Token': csrf! },
      cookies: true,
    });
    t.match(signedOut, { status: 204 }, '/token/logout');
    t.notOk(
      (await page.context().cookies(`${issuer}/token`)).some((c) => c.name === 'tessera_refresh'),
      'the cookie is gone',
    );
  });
});
