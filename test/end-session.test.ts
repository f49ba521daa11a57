// GET and POST /logout: OpenID Connect RP-Initiated Logout 1.0. A valid id_token_hint (an expired
// one too) ends the user's session and the refresh families it started — announced on the
// revocation stream — then goes back to a registered post_logout_redirect_uri with state, or shows
// the signed-out page; a bad hint or an unregistered URI is an error page and ends nothing; without
// a hint the user confirms on a CSRF-protected form.
import t, { type Test } from 'tap';
import type { AddressInfo } from 'node:net';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { basic, registerClient, registerUser, startTessera, tokenRequest, type Running } from './helpers/harness.ts';
import { authorizationRequest, formAction, hiddenFields, PageBrowser, redirected } from './helpers/page-flow.ts';
import { openStream } from './helpers/sse.ts';

const REDIRECT = 'https://app.example.com/cb';
const AFTER_LOGOUT = 'https://app.example.com/signed-out';
const OTHER_REDIRECT = 'https://other.example.com/cb';
const OTHER_AFTER_LOGOUT = 'https://other.example.com/bye';

async function setUp(t: Test, running?: Running) {
  const server = running ?? (await startTessera(t));
  const { tessera } = server;
  const alice = await registerUser(tessera);
  const app1 = await registerClient(tessera, {
    name: 'App',
    public: true,
    redirectUris: [REDIRECT],
    postLogoutRedirectUris: [AFTER_LOGOUT],
    scopes: ['openid', 'profile'],
  });
  const app2 = await registerClient(tessera, {
    name: 'Other',
    public: true,
    redirectUris: [OTHER_REDIRECT],
    postLogoutRedirectUris: [OTHER_AFTER_LOGOUT],
    scopes: ['openid'],
  });
  return { ...server, alice, app1, app2 };
}

type SetUp = Awaited<ReturnType<typeof setUp>>;

/** Signs in when the browser has no session (else answered from it), and exchanges the code: the client's tokens. */
async function tokensFor(t: Test, { app, alice }: SetUp, browser: PageBrowser, client: { id: string }, redirectUri: string) {
  const request = authorizationRequest(client.id, redirectUri, { scope: 'openid' });
  let res = await browser.get(request.url);
  if (res.statusCode === 200) res = await browser.submit(res, { username: alice.username, password: alice.password });
  const code = redirected(t, res).get('code')!;
  const tokens = await tokenRequest(app, client, {
    grant_type: 'authorization_code',
    code,
    code_verifier: request.verifier,
    redirect_uri: redirectUri,
  });
  t.equal(tokens.statusCode, 200, 'tokens');
  return { idToken: tokens.body_.id_token as string, refreshToken: tokens.body_.refresh_token as string };
}

const logoutUrl = (params: Record<string, string>) => `/logout?${new URLSearchParams(params)}`;

/** Whether the browser's session still answers prompt=none with a code. */
async function stillSignedIn(t: Test, browser: PageBrowser, client: { id: string }, redirectUri: string): Promise<boolean> {
  const answer = redirected(t, await browser.get(authorizationRequest(client.id, redirectUri, { prompt: 'none', scope: 'openid' }).url));
  if (answer.get('code')) return true;
  t.equal(answer.get('error'), 'login_required');
  return false;
}

const refreshes = async (app: Running['app'], client: { id: string }, refreshToken: string) =>
  (await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: refreshToken })).statusCode === 200;

t.test('with a valid id_token_hint: the session and its refresh families end, announced on the stream', async (t) => {
  const running = await setUp(t);
  const { app, tessera, app1, app2 } = running;
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.server.closeAllConnections());
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const listener = await registerClient(tessera, { name: 'resource server', introspect: true });
  const stream = await openStream(`${url}/revocations`, { headers: { authorization: basic(listener.id, listener.secret!) } });
  t.teardown(() => stream.close());
  await stream.next((e) => e.event === 'synced');

  const browser = new PageBrowser(app);
  const first = await tokensFor(t, running, browser, app1, REDIRECT);
  const second = await tokensFor(t, running, browser, app2, OTHER_REDIRECT);
  // Another browser's session of the same user, and a password-less family outside any session.
  const elsewhere = await tokensFor(t, running, new PageBrowser(app), app1, REDIRECT);
  const sid = decodeJwt(first.idToken).sid;
  t.equal(decodeJwt(second.idToken).sid, sid, 'one session, two clients');
  t.not(decodeJwt(elsewhere.idToken).sid, sid, 'the other browser has its own');
  const grants = await Promise.all([first, second].map(async (x) => (await tessera.tokens.findRefreshToken(x.refreshToken))!.grantId));
  // A code issued under the session but not exchanged yet would start a family after the logout.
  const pending = authorizationRequest(app1.id, REDIRECT, { scope: 'openid' });
  const pendingCode = redirected(t, await browser.get(pending.url)).get('code')!;

  const res = await browser.get(logoutUrl({ id_token_hint: first.idToken, post_logout_redirect_uri: AFTER_LOGOUT, state: 'bye-1' }));
  t.equal(res.statusCode, 302);
  const location = new URL(String(res.headers.location));
  t.equal(`${location.origin}${location.pathname}`, AFTER_LOGOUT, 'back to the registered URI');
  t.equal(location.searchParams.get('state'), 'bye-1', 'with state');
  t.match(res.headers['set-cookie'], /tessera_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Lax/, 'the cookie is cleared');
  t.notOk(browser.cookie('tessera_session'));

  for (const [i, grant] of grants.entries()) {
    const event = await stream.next((e) => e.event === 'revocation' && (JSON.parse(e.data) as { sid?: string }).sid === grant, 3000);
    t.ok(event, `family ${i + 1} is announced on the revocation stream`);
  }
  t.notOk(await refreshes(app, app1, first.refreshToken), "the first client's refresh token is refused");
  const refused = await tokenRequest(app, app2, { grant_type: 'refresh_token', refresh_token: second.refreshToken });
  t.equal(refused.body_.error, 'invalid_grant', "so is the second client's: invalid_grant");
  const exchanged = await tokenRequest(app, app1, {
    grant_type: 'authorization_code',
    code: pendingCode,
    code_verifier: pending.verifier,
    redirect_uri: REDIRECT,
  });
  t.equal(exchanged.body_.error, 'invalid_grant', 'a code of the session not yet exchanged is void');
  t.ok(await refreshes(app, app1, elsewhere.refreshToken), "another session's family lives on");

  // The cookie is gone, but even a browser that kept it has no session.
  const kept = new PageBrowser(app);
  t.notOk(await stillSignedIn(t, kept, app1, REDIRECT), 'prompt=none: login_required');
  const session = await tessera.store.sessions.byId(String(sid));
  t.ok(session?.endedAt, 'the session is ended in the database');
});

t.test('hints: expired, without a redirect URI, posted, or naming a session the browser does not hold', async (t) => {
  const running = await setUp(t);
  const { app, tessera, app1 } = running;

  t.test('expired: accepted', async (t) => {
    const browser = new PageBrowser(app);
    const { idToken } = await tokensFor(t, running, browser, app1, REDIRECT);
    const claims = decodeJwt(idToken);
    const { kid, key } = tessera.keys.signingKey();
    const expired = await new SignJWT({ ...claims, iat: claims.iat! - 7200, exp: claims.iat! - 3600 })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .sign(key);
    const res = await browser.get(logoutUrl({ id_token_hint: expired }));
    t.equal(res.statusCode, 200, 'no URI: the signed-out page');
    t.match(res.headers['content-type'], /text\/html/);
    t.notOk(await stillSignedIn(t, browser, app1, REDIRECT), 'signed out');
  });

  t.test('posted by the client (a form), state without a URI is ignored', async (t) => {
    const browser = new PageBrowser(app);
    const { idToken } = await tokensFor(t, running, browser, app1, REDIRECT);
    const res = await browser.post('/logout', {
      id_token_hint: idToken,
      state: 'ignored',
      client_id: app1.id,
      logout_hint: 'alice',
      ui_locales: 'fr',
    });
    t.equal(res.statusCode, 200);
    t.notOk(await stillSignedIn(t, browser, app1, REDIRECT));
  });

  t.test("the hint's session ends even from a browser without its cookie", async (t) => {
    const browser = new PageBrowser(app);
    const { idToken, refreshToken } = await tokensFor(t, running, browser, app1, REDIRECT);
    const res = await new PageBrowser(app).get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: AFTER_LOGOUT }));
    t.equal(res.statusCode, 302);
    t.notOk(await stillSignedIn(t, browser, app1, REDIRECT), "the session the hint's sid names");
    t.notOk(await refreshes(app, app1, refreshToken));
  });

  t.test("another user's session in this browser is not the client's to end", async (t) => {
    const bob = await registerUser(tessera, 'bob', 'bob password 1234');
    const alicesBrowser = new PageBrowser(app);
    const { idToken } = await tokensFor(t, running, alicesBrowser, app1, REDIRECT);
    const bobsBrowser = new PageBrowser(app);
    const page = await bobsBrowser.get(authorizationRequest(app1.id, REDIRECT).url);
    redirected(t, await bobsBrowser.submit(page, { username: bob.username, password: bob.password }));
    const res = await bobsBrowser.get(logoutUrl({ id_token_hint: idToken }));
    t.equal(res.statusCode, 200);
    t.ok(await stillSignedIn(t, bobsBrowser, app1, REDIRECT), "bob's session goes on, cookie and all");
    t.notOk(await stillSignedIn(t, alicesBrowser, app1, REDIRECT), "alice's, named by the hint, ends");
  });
});

t.test("a hint from another of the user's sessions: the user confirms before the browser's session ends", async (t) => {
  const running = await setUp(t);
  const { app, app1 } = running;
  const browser = new PageBrowser(app);
  const old = await tokensFor(t, running, browser, app1, REDIRECT);
  // A new sign-in in the same browser (prompt=login): a new session, which the old ID token does not name.
  const again = authorizationRequest(app1.id, REDIRECT, { scope: 'openid', prompt: 'login' });
  const page = await browser.get(again.url);
  const code = redirected(t, await browser.submit(page, { username: running.alice.username, password: running.alice.password })).get(
    'code',
  )!;
  const current = await tokenRequest(app, app1, {
    grant_type: 'authorization_code',
    code,
    code_verifier: again.verifier,
    redirect_uri: REDIRECT,
  });
  t.not(decodeJwt(current.body_.id_token as string).sid, decodeJwt(old.idToken).sid, 'two sessions');

  const asked = await browser.get(logoutUrl({ id_token_hint: old.idToken, post_logout_redirect_uri: AFTER_LOGOUT, state: 's-3' }));
  t.equal(asked.statusCode, 200, 'the confirmation page, not a redirect');
  t.match(asked.body, /<form/);
  t.match(
    hiddenFields(asked.body),
    { id_token_hint: old.idToken, post_logout_redirect_uri: AFTER_LOGOUT, state: 's-3' },
    'carrying the checked request',
  );
  t.notOk(asked.headers['set-cookie']?.toString().includes('tessera_session='), 'the cookie stays');
  t.ok(await stillSignedIn(t, browser, app1, REDIRECT), "the browser's session goes on until the user confirms");
  t.ok(await refreshes(app, app1, current.body_.refresh_token as string), 'and so does its family');

  const confirmed = await browser.submit(asked);
  t.equal(String(confirmed.headers.location), `${AFTER_LOGOUT}?state=s-3`, 'confirmed: back to the registered URI, with state');
  t.notOk(browser.cookie('tessera_session'), 'the cookie is cleared');
  t.notOk(await refreshes(app, app1, current.body_.refresh_token as string), "the browser's session ended with its family");
  t.notOk(await refreshes(app, app1, old.refreshToken), "and so did the hint's");
});

t.test('a session pruned past its absolute end still has its refresh families ended by a logout', async (t) => {
  const running = await setUp(t, await startTessera(t, { env: { TESSERA_SESSION_MAX: '60', TESSERA_SESSION_IDLE: '60' } }));
  const { app, tessera, app1 } = running;
  const { idToken, refreshToken } = await tokensFor(t, running, new PageBrowser(app), app1, REDIRECT);
  const bob = await registerUser(tessera, 'bob', 'bob password 1234');
  const bobs = await tokensFor(t, { ...running, alice: bob }, new PageBrowser(app), app1, REDIRECT);
  t.equal((await tessera.store.prune(new Date(Date.now() + 120_000))).sessions, 2, 'both sessions pruned');
  t.ok(await refreshes(app, app1, refreshToken), 'the family outlives its session');

  const res = await new PageBrowser(app).get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: AFTER_LOGOUT }));
  t.equal(res.statusCode, 302, 'signed out');
  t.notOk(await refreshes(app, app1, refreshToken), 'the family named by the hint ends');
  t.ok(await refreshes(app, app1, bobs.refreshToken), "another user's family lives on");
});

t.test('a code exchanged as its session ends starts no family that outlives it', async (t) => {
  const running = await setUp(t);
  const { app, tessera, app1 } = running;
  const browser = new PageBrowser(app);
  await tokensFor(t, running, browser, app1, REDIRECT);
  const request = authorizationRequest(app1.id, REDIRECT, { scope: 'openid' });
  const code = redirected(t, await browser.get(request.url)).get('code')!;
  const session = (await tessera.sessions.find(browser.cookie('tessera_session')))!;
  // The logout lands between the code's use and the start of its family: the window of the race.
  const startGrant = tessera.tokens.startGrant.bind(tessera.tokens);
  let started: string | undefined;
  tessera.tokens.startGrant = async (client, user, scope, grantId, signIn) => {
    started = grantId;
    await tessera.sessions.end(session.record);
    return startGrant(client, user, scope, grantId, signIn);
  };
  t.teardown(() => {
    tessera.tokens.startGrant = startGrant;
  });
  const res = await tokenRequest(app, app1, {
    grant_type: 'authorization_code',
    code,
    code_verifier: request.verifier,
    redirect_uri: REDIRECT,
  });
  t.equal(res.statusCode, 400);
  t.equal(res.body_.error, 'invalid_grant', 'the exchange is refused');
  t.ok((await tessera.store.tokens.findGrant(started!))?.revokedAt, 'and the family it started is revoked');
});

t.test('bad requests: an error page, never a redirect, and nothing ends', async (t) => {
  const running = await setUp(t);
  const { app, tessera, app1, app2 } = running;
  const browser = new PageBrowser(app);
  const { idToken, refreshToken } = await tokensFor(t, running, browser, app1, REDIRECT);
  const other = await setUp(t, await startTessera(t));
  const foreignHint = (await tokensFor(t, other, new PageBrowser(other.app), other.app1, REDIRECT)).idToken;
  const jwtClient = await registerClient(tessera, { grants: ['client_credentials'], tokenFormat: 'jwt' });
  const accessToken = (await tokenRequest(app, jwtClient, { grant_type: 'client_credentials' })).body_.access_token as string;
  const { privateKey } = await generateKeyPair('ES256');
  const ownKid = tessera.keys.signingKey().kid;
  const wrongKey = await new SignJWT(decodeJwt(idToken)).setProtectedHeader({ alg: 'ES256', kid: ownKid, typ: 'JWT' }).sign(privateKey);
  const [header, payload, signature] = idToken.split('.') as [string, string, string];
  const otherPayload = Buffer.from(JSON.stringify({ ...decodeJwt(idToken), sub: 'someone-else' })).toString('base64url');

  const cases: [string, Record<string, string>][] = [
    ['a tampered hint', { id_token_hint: `${header}.${otherPayload}.${signature}` }],
    ['a hint signed by another key under our kid', { id_token_hint: wrongKey }],
    ["another server's hint", { id_token_hint: foreignHint }],
    ['an access token as the hint', { id_token_hint: accessToken }],
    ['not a JWT', { id_token_hint: 'garbage' }],
    ['a hint with its signature cut', { id_token_hint: `${header}.${payload}.` }],
    ['a client_id other than the hint’s', { id_token_hint: idToken, client_id: app2.id }],
    ['an unregistered URI', { id_token_hint: idToken, post_logout_redirect_uri: 'https://evil.example/' }],
    ["another client's registered URI", { id_token_hint: idToken, post_logout_redirect_uri: OTHER_AFTER_LOGOUT }],
    ['a URI differing by a slash', { id_token_hint: idToken, post_logout_redirect_uri: `${AFTER_LOGOUT}/` }],
    ['a URI with neither a hint nor a client_id', { post_logout_redirect_uri: AFTER_LOGOUT }],
    ['an unknown client_id', { client_id: 'nobody', post_logout_redirect_uri: AFTER_LOGOUT }],
    ['an unregistered URI with client_id', { client_id: app1.id, post_logout_redirect_uri: 'https://evil.example/' }],
  ];
  for (const [name, params] of cases) {
    for (const method of ['GET', 'POST'] as const) {
      const res = method === 'GET' ? await browser.get(logoutUrl(params)) : await browser.post('/logout', params);
      t.equal(res.statusCode, 400, `${name} (${method}): 400`);
      t.notOk(res.headers.location, `${name} (${method}): no redirect`);
      t.match(res.body, /role="alert"/, `${name} (${method}): an error page`);
      t.notOk(res.headers['set-cookie'], `${name} (${method}): the cookie stays`);
    }
  }
  const repeated = await browser.get(`${logoutUrl({ id_token_hint: idToken })}&id_token_hint=${idToken}`);
  t.equal(repeated.statusCode, 400, 'a repeated parameter');
  const nul = await browser.get('/logout?state=%00');
  t.equal(nul.statusCode, 400, 'a NUL byte');
  t.ok(await stillSignedIn(t, browser, app1, REDIRECT), 'the session still works');
  t.ok(await refreshes(app, app1, refreshToken), 'and so does its refresh token');
});

t.test('without a hint: the user confirms, on a CSRF-protected form', async (t) => {
  const running = await setUp(t);
  const { app, app1 } = running;
  const browser = new PageBrowser(app);
  const { refreshToken } = await tokensFor(t, running, browser, app1, REDIRECT);

  const page = await browser.get(logoutUrl({ client_id: app1.id, post_logout_redirect_uri: AFTER_LOGOUT, state: 's-2' }));
  t.equal(page.statusCode, 200, 'the confirmation page');
  t.match(page.body, /App/, 'names the client that asked');
  t.equal(formAction(page.body), '/logout', 'posting to /logout');
  const fields = hiddenFields(page.body);
  t.match(fields, { client_id: app1.id, post_logout_redirect_uri: AFTER_LOGOUT, state: 's-2' }, 'carrying the checked request');
  t.match(page.headers['content-security-policy'], /form-action 'self' https:\/\/app\.example\.com/);
  t.match(browser.setCookieLine('tessera_logout_csrf'), /HttpOnly; SameSite=Strict/);
  t.ok(await stillSignedIn(t, browser, app1, REDIRECT), 'asking ends nothing');

  const noCookie = await new PageBrowser(app).post('/logout', fields);
  t.equal(noCookie.statusCode, 403, 'the form without its cookie: refused');
  const wrong = await browser.post('/logout', { ...fields, csrf: 'forged' });
  t.equal(wrong.statusCode, 403, 'a wrong CSRF value: refused');
  const withoutCsrf = { ...fields };
  delete withoutCsrf.csrf;
  const again = await browser.post('/logout', withoutCsrf);
  t.equal(again.statusCode, 200, 'without its CSRF value it is a new request: asked again');
  t.match(again.body, /<form/);
  t.ok(await stillSignedIn(t, browser, app1, REDIRECT), 'nothing ended');

  const confirmed = await browser.submit(
    await browser.get(logoutUrl({ client_id: app1.id, post_logout_redirect_uri: AFTER_LOGOUT, state: 's-2' })),
  );
  t.equal(confirmed.statusCode, 302, 'confirmed');
  t.equal(String(confirmed.headers.location), `${AFTER_LOGOUT}?state=s-2`, 'back to the registered URI, with state');
  t.notOk(browser.cookie('tessera_session'), 'the cookie is cleared');
  t.notOk(await stillSignedIn(t, browser, app1, REDIRECT), 'signed out');
  t.notOk(await refreshes(app, app1, refreshToken), "the session's refresh family ended");

  const bare = new PageBrowser(app);
  const signedOut = await bare.submit(await bare.get('/logout'));
  t.equal(signedOut.statusCode, 200, 'no session and no URI: the signed-out page');
  t.notOk(signedOut.headers.location);
});

t.test('a session ended on one instance ends on the others within a second', async (t) => {
  const running = await setUp(t);
  const { app, app1 } = running;
  const other = await startTessera(t, { db: running.db });
  const browser = new PageBrowser(app);
  const { idToken } = await tokensFor(t, running, browser, app1, REDIRECT);
  const there = new PageBrowser(other.app);
  there.plant('tessera_session', browser.cookie('tessera_session')!);
  t.ok(await stillSignedIn(t, there, app1, REDIRECT), 'the other instance answers from the session (and caches it)');

  t.equal((await browser.get(logoutUrl({ id_token_hint: idToken }))).statusCode, 200, 'signed out on the first');
  const ended = Date.now();
  while ((await stillSignedIn(t, there, app1, REDIRECT)) && Date.now() - ended < 3000) await new Promise((r) => setTimeout(r, 50));
  t.ok(Date.now() - ended < 1500, `the other instance ends it too, within a second (${Date.now() - ended} ms)`);
});
