// OpenID Connect end to end: a person in Debian's Chromium (playwright-core) signs in on
// Tessera's pages, and the relying parties are openid-client — a certified RP library, so the ID
// token's signature, iss, aud, azp, exp, nonce and auth_time, the state and the RFC 9207 iss of
// the authorization response are checked by someone else's code, not by ours. Skipped, loudly,
// without /usr/bin/chromium (never under CI: .ci/run installs it).
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import type { BrowserContext, Page } from 'playwright-core';
import type { ClientRegistration } from '../src/domain/clients.ts';
import type { UserProfile } from '../src/domain/users.ts';
import { callbackServer, chromiumSkip, launchChromium, listeningTessera } from './helpers/browser.ts';
import { registerClient, registerUser } from './helpers/harness.ts';

/** OpenID Connect Core §3.1.3.6: base64url of the left half of the access token's SHA-256 (ES256). */
const atHash = (accessToken: string) => createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');

/**
 * The OAuth error code an openid-client call failed with: `error` of an authorization response
 * (AuthorizationResponseError) or of a token endpoint answer (ResponseBodyError). Anything else
 * fails the test as it is; a call that succeeds gives undefined.
 */
async function oauthError(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError) return error.error;
    throw error;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('OpenID Connect in Chromium, with openid-client as the relying party', { skip: chromiumSkip() }, async (t) => {
  const { tessera, issuer } = await listeningTessera(t);
  const callbacks = await callbackServer(t);
  const browser = await launchChromium(t);

  /** A registered client and openid-client's configuration for it, found through discovery. */
  async function relyingParty(name: string, registration: Partial<ClientRegistration> = {}) {
    const redirectUri = `${callbacks}/${name}/callback`;
    const postLogoutRedirectUri = `${callbacks}/${name}/signed-out`;
    const client = await registerClient(tessera, {
      name,
      grants: ['authorization_code'],
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [postLogoutRedirectUri],
      scopes: ['openid', 'profile', 'email'],
      ...registration,
    });
    // A confidential client authenticates with client_secret_post (openid-client's default); a
    // public one sends its client_id alone.
    const config = await oidc.discovery(new URL(issuer), client.id, client.secret, client.secret ? undefined : oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    return { client, config, redirectUri, postLogoutRedirectUri };
  }
  type RelyingParty = Awaited<ReturnType<typeof relyingParty>>;

  async function person(username: string, profile: UserProfile = {}) {
    const registered = await registerUser(tessera, username);
    if (Object.keys(profile).length > 0) await tessera.users.update(username, profile);
    return registered;
  }
  type Person = Awaited<ReturnType<typeof person>>;

  /** A browser profile of its own (its own cookies: its own session), closed when the test ends. */
  async function freshBrowser(t: Test): Promise<Page> {
    const context: BrowserContext = await browser.newContext();
    t.teardown(() => context.close());
    return context.newPage();
  }

  /** An authorization request as the relying party builds it: PKCE, nonce and state, fresh each time. */
  async function authorization(rp: RelyingParty, parameters: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp.config, {
      redirect_uri: rp.redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
      ...parameters,
    });
    return { url, verifier, nonce, state };
  }
  type Authorization = Awaited<ReturnType<typeof authorization>>;

  /** The relying party's callback: openid-client reads the page's URL and exchanges the code. */
  const exchange = (rp: RelyingParty, request: Authorization, page: Page, maxAge?: number) =>
    oidc.authorizationCodeGrant(rp.config, new URL(page.url()), {
      pkceCodeVerifier: request.verifier,
      expectedNonce: request.nonce,
      expectedState: request.state,
      ...(maxAge === undefined ? {} : { maxAge }),
    });

  const landedOn = (page: Page, uri: string) => {
    const url = new URL(page.url());
    return `${url.origin}${url.pathname}` === uri;
  };

  /** Clicks a button that submits a form, and waits for the page the answer leads to. */
  async function submit(page: Page, button: string | RegExp) {
    const before = page.url();
    await Promise.all([page.waitForURL((url) => url.href !== before), page.getByRole('button', { name: button }).click()]);
  }

  async function signIn(page: Page, who: Person) {
    await page.getByLabel('Username').fill(who.username);
    await page.getByLabel('Password').fill(who.password);
    await submit(page, 'Sign in');
  }

  const showsSignIn = async (page: Page) =>
    new URL(page.url()).origin === new URL(issuer).origin && (await page.getByLabel('Password').isVisible());

  /** Signs in from scratch in `page` for `rp`, and returns the tokens openid-client validated. */
  async function signedIn(t: Test, page: Page, rp: RelyingParty, who: Person) {
    const request = await authorization(rp);
    await page.goto(request.url.href);
    t.ok(await showsSignIn(page), 'the sign-in page is shown');
    await signIn(page, who);
    t.ok(landedOn(page, rp.redirectUri), 'the browser is back at the callback');
    return exchange(rp, request, page);
  }

  /** One more code for `rp` in a browser that already has a session, exchanged. */
  async function exchangeAgain(rp: RelyingParty, page: Page, parameters: Record<string, string> = {}) {
    const request = await authorization(rp, parameters);
    await page.goto(request.url.href);
    return exchange(rp, request, page);
  }

  await t.test('code flow with PKCE and nonce: a validated ID token, /userinfo, and a refresh', async (t) => {
    const rp = await relyingParty('notes');
    const alice = await person('alice', { name: 'Alice Liddell', emailVerified: true, roles: ['editor'], groups: ['staff'] });
    const page = await freshBrowser(t);
    const started = Math.floor(Date.now() / 1000);

    const tokens = await signedIn(t, page, rp, alice);
    const claims = tokens.claims();
    if (!claims) return t.fail('the token response has an id_token');
    t.equal(tokens.scope, 'openid profile email');
    t.equal(claims.iss, issuer);
    t.equal(claims.sub, alice.user.id, 'sub is the user id');
    t.equal(claims.aud, rp.client.id, 'aud is the client_id');
    t.equal(claims.azp, rp.client.id);
    t.ok(
      typeof claims.auth_time === 'number' && claims.auth_time >= started - 1 && claims.auth_time <= claims.iat,
      'auth_time is the sign-in',
    );
    t.type(claims.sid, 'string', 'sid names the browser session');
    t.equal(claims.at_hash, atHash(tokens.access_token), 'at_hash is the access token');
    const [header] = tokens.id_token!.split('.');
    t.match(JSON.parse(Buffer.from(header!, 'base64url').toString()), { alg: 'ES256', typ: 'JWT', kid: String });

    const cookies = await page.context().cookies(issuer);
    t.match(
      cookies.find((cookie) => cookie.name === 'tessera_session'),
      { httpOnly: true, sameSite: 'Lax', path: '/', secure: false },
      'the session cookie: HttpOnly, SameSite=Lax, Path=/ (not Secure on a plain-http loopback issuer)',
    );

    const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
    t.same(
      info,
      {
        sub: alice.user.id,
        preferred_username: 'alice',
        name: 'Alice Liddell',
        email: 'alice@example.com',
        email_verified: true,
        roles: ['editor'],
        groups: ['staff'],
      },
      '/userinfo answers the profile, email, roles and groups',
    );

    const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
    const again = refreshed.claims();
    if (!again) return t.fail('a refresh of an openid grant returns an id_token');
    t.equal(again.sub, claims.sub);
    t.equal(again.auth_time, claims.auth_time, 'the refreshed ID token keeps the sign-in time');
    t.equal(again.sid, claims.sid, 'and the session');
    t.notOk('nonce' in again, 'a refreshed ID token has no nonce');
    t.equal(again.at_hash, atHash(refreshed.access_token));
  });

  await t.test('single sign-on: a second client gets a code without a form, in the same session', async (t) => {
    const one = await relyingParty('sso-one');
    const two = await relyingParty('sso-two', { public: true });
    const bob = await person('bob');
    const page = await freshBrowser(t);
    const first = (await signedIn(t, page, one, bob)).claims()!;

    const request = await authorization(two);
    await page.goto(request.url.href);
    t.ok(landedOn(page, two.redirectUri), 'straight back to the second client, no sign-in page');
    const secondTokens = await exchange(two, request, page);
    const second = secondTokens.claims()!;
    t.equal(second.aud, two.client.id);
    t.equal(second.sub, first.sub);
    t.equal(second.sid, first.sid, 'the same session');
    t.equal(second.auth_time, first.auth_time, 'the same sign-in');

    const info = await oidc.fetchUserInfo(two.config, secondTokens.access_token, first.sub);
    t.notOk('roles' in info || 'groups' in info, 'no roles or groups for a user without them');

    const elsewhere = await freshBrowser(t);
    await elsewhere.goto((await authorization(two)).url.href);
    t.ok(await showsSignIn(elsewhere), 'another browser has no session: it gets the sign-in page');
  });

  await t.test('prompt=none: login_required without a session, a code with one', async (t) => {
    const rp = await relyingParty('silent');
    const carol = await person('carol');
    const page = await freshBrowser(t);

    const request = await authorization(rp, { prompt: 'none' });
    await page.goto(request.url.href);
    t.ok(landedOn(page, rp.redirectUri), 'no page: straight back to the client');
    t.equal(await oauthError(exchange(rp, request, page)), 'login_required');

    const first = (await signedIn(t, page, rp, carol)).claims()!;
    const silent = await exchangeAgain(rp, page, { prompt: 'none' });
    t.equal(silent.claims()?.sid, first.sid, 'with a session, prompt=none gets a code');
  });

  await t.test('max_age: a session older than it asks for the password again', async (t) => {
    const rp = await relyingParty('recent');
    const dora = await person('dora');
    const page = await freshBrowser(t);
    const first = (await signedIn(t, page, rp, dora)).claims()!;

    const youngRequest = await authorization(rp, { max_age: '3600' });
    await page.goto(youngRequest.url.href);
    const young = await exchange(rp, youngRequest, page, 3600);
    t.equal(young.claims()?.auth_time, first.auth_time, 'a session younger than max_age is used as it is');

    // auth_time counts whole seconds: wait until the sign-in is surely more than a second old.
    await sleep((first.auth_time! + 2) * 1000 - Date.now() + 100);
    const request = await authorization(rp, { max_age: '1' });
    await page.goto(request.url.href);
    t.ok(await showsSignIn(page), 'the sign-in page again');
    await signIn(page, dora);
    const later = (await exchange(rp, request, page, 1)).claims()!;
    t.ok(later.auth_time! > first.auth_time!, 'auth_time is the new sign-in');
  });

  await t.test('consent for a third-party client: asked once per scope, remembered, deniable', async (t) => {
    const rp = await relyingParty('third-party', { consent: true, scopes: ['openid', 'profile', 'email', 'notes:read'] });
    const erin = await person('erin');
    const page = await freshBrowser(t);

    const request = await authorization(rp, { scope: 'openid profile' });
    await page.goto(request.url.href);
    await signIn(page, erin);
    t.notOk(landedOn(page, rp.redirectUri), 'a consent page, not the callback');
    const text = await page.locator('body').innerText();
    t.match(text, 'third-party', 'it names the client');
    t.match(text, 'erin', 'and who is signed in');
    t.equal(await page.getByRole('listitem').count(), 2, 'it lists the two scopes asked for');
    await submit(page, /^allow/i);
    t.ok(landedOn(page, rp.redirectUri));
    t.equal((await exchange(rp, request, page)).scope, 'openid profile', 'Allow gives a code for the scopes');

    const again = await exchangeAgain(rp, page, { scope: 'openid profile' });
    t.equal(again.scope, 'openid profile', 'the approval is remembered: no page the second time');
    const subset = await exchangeAgain(rp, page, { scope: 'openid' });
    t.equal(subset.scope, 'openid', 'and it covers a subset');

    const silent = await authorization(rp, { scope: 'openid email', prompt: 'none' });
    await page.goto(silent.url.href);
    t.equal(await oauthError(exchange(rp, silent, page)), 'consent_required', 'prompt=none with a new scope: consent_required');

    const wider = await authorization(rp, { scope: 'openid email' });
    await page.goto(wider.url.href);
    t.notOk(landedOn(page, rp.redirectUri), 'a new scope asks again');
    await submit(page, /^allow/i);
    t.equal((await exchange(rp, wider, page)).scope, 'openid email');
    const union = await exchangeAgain(rp, page, { scope: 'openid profile email' });
    t.equal(union.scope, 'openid profile email', 'approvals add up');

    const denied = await authorization(rp, { scope: 'openid notes:read' });
    await page.goto(denied.url.href);
    await submit(page, /^deny/i);
    t.ok(landedOn(page, rp.redirectUri), 'Deny goes back to the client');
    t.equal(await oauthError(exchange(rp, denied, page)), 'access_denied');
  });

  await t.test('RP-initiated logout ends the session and the refresh families it started', async (t) => {
    const rp = await relyingParty('leaving');
    const other = await relyingParty('leaving-too');
    const frank = await person('frank');
    const page = await freshBrowser(t);
    const tokens = await signedIn(t, page, rp, frank);
    const otherTokens = await exchangeAgain(other, page);

    const logout = oidc.buildEndSessionUrl(rp.config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: rp.postLogoutRedirectUri,
      state: 'b8e',
    });
    await page.goto(logout.href);
    t.ok(landedOn(page, rp.postLogoutRedirectUri), 'back at the registered post-logout URI');
    t.equal(new URL(page.url()).searchParams.get('state'), 'b8e', 'with the state');

    const request = await authorization(rp, { prompt: 'none' });
    await page.goto(request.url.href);
    t.equal(await oauthError(exchange(rp, request, page)), 'login_required', 'the session is over');
    t.equal(await oauthError(oidc.refreshTokenGrant(rp.config, tokens.refresh_token!)), 'invalid_grant', 'its refresh token is dead');
    t.equal(
      await oauthError(oidc.refreshTokenGrant(other.config, otherTokens.refresh_token!)),
      'invalid_grant',
      "and so is the other client's, started by the same session",
    );
  });

  await t.test('logout without an id_token_hint asks the person first', async (t) => {
    const rp = await relyingParty('asking');
    const hank = await person('hank');
    const page = await freshBrowser(t);
    await signedIn(t, page, rp, hank);

    const logout = oidc.buildEndSessionUrl(rp.config, { post_logout_redirect_uri: rp.postLogoutRedirectUri, state: 'q' });
    await page.goto(logout.href);
    t.equal(new URL(page.url()).origin, new URL(issuer).origin, 'a page on Tessera, not a redirect');
    t.match(await page.locator('body').innerText(), 'asking', 'naming the application that asked');
    const elsewhere = await page.context().newPage();
    const silent = await exchangeAgain(rp, elsewhere, { prompt: 'none' });
    t.ok(silent.claims(), 'until the person confirms, the session lives');

    await submit(page, 'Sign out');
    t.ok(landedOn(page, rp.postLogoutRedirectUri), 'confirmed: back at the registered URI');
    t.equal(new URL(page.url()).searchParams.get('state'), 'q');
    const request = await authorization(rp, { prompt: 'none' });
    await elsewhere.goto(request.url.href);
    t.equal(await oauthError(exchange(rp, request, elsewhere)), 'login_required', 'and the session is over');
  });

  await t.test('an unregistered post_logout_redirect_uri: an error page, and nothing ends', async (t) => {
    const rp = await relyingParty('staying');
    const grace = await person('grace');
    const page = await freshBrowser(t);
    const tokens = await signedIn(t, page, rp, grace);

    const logout = oidc.buildEndSessionUrl(rp.config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: `${callbacks}/somewhere-else`,
      state: 'x',
    });
    const response = await page.goto(logout.href);
    const status = response?.status() ?? 0;
    t.ok(status >= 400 && status < 500, `an error page (${status})`);
    t.equal(new URL(page.url()).origin, new URL(issuer).origin, 'the browser stays on Tessera');

    const silent = await exchangeAgain(rp, page, { prompt: 'none' });
    t.equal(silent.claims()?.sid, tokens.claims()?.sid, 'the session still works');
    const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
    t.ok(refreshed.access_token, 'and so does the refresh token');
  });
});
