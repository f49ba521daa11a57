// The authorization code flow with PKCE through the real sign-in page (driven over HTTP here;
// browser.test.ts drives it in Chromium), browser clients' cookies, and throttling.
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { ISSUER, post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';
import { hiddenFields } from './helpers/page-flow.ts';
import { pkcePair } from './helpers/pkce.ts';

const REDIRECT = 'https://app.example.com/callback';

function cookiesOf(res: { headers: Record<string, unknown> }): Record<string, string> {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw as string] : [];
  return Object.fromEntries(list.map((c: string) => [c.split('=')[0]!, c]));
}
const cookieValue = (setCookie: string) => setCookie.split(';')[0]!.split('=').slice(1).join('=');

/** GETs the form, then posts it back as a browser would; returns the POST response. */
async function signIn(
  app: FastifyInstance,
  query: Record<string, string>,
  username: string,
  password: string,
  tamper?: (form: Record<string, string>) => void,
) {
  const page = await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams(query)}` });
  const csrfCookie = cookiesOf(page).tessera_login_csrf;
  const form: Record<string, string> = { ...hiddenFields(page.body), username, password };
  tamper?.(form);
  return app.inject({
    method: 'POST',
    url: '/authorize',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie ? csrfCookie.split(';')[0]! : '' },
    payload: new URLSearchParams(form).toString(),
  });
}

function location(t: Test, res: { statusCode: number; headers: Record<string, unknown> }) {
  t.equal(res.statusCode, 302, 'redirected');
  return new URL(res.headers.location as string);
}

t.test('authorization code flow', async (t) => {
  const { app, tessera } = await startTessera(t, { env: { TESSERA_CODE_TTL: '2' } });
  const { username, password } = await registerUser(tessera);
  const spa = await registerClient(tessera, { name: 'Example App', public: true, redirectUris: [REDIRECT], scopes: ['profile', 'email'] });
  const web = await registerClient(tessera, { grants: ['authorization_code'], redirectUris: [REDIRECT, 'https://app.example.com/other'] });
  const query = (client: { id: string }, challenge: string, extra: Record<string, string> = {}) => ({
    response_type: 'code',
    client_id: client.id,
    redirect_uri: REDIRECT,
    state: 'xyz',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  const exchange = (client: { id: string; secret?: string }, code: string, verifier: string, redirectUri = REDIRECT) =>
    tokenRequest(app, client, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri });

  t.test('the sign-in page', async (t) => {
    const { challenge } = pkcePair();
    const page = await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams(query(spa, challenge))}` });
    t.equal(page.statusCode, 200);
    t.match(page.headers['content-type'], /text\/html/);
    t.match(page.body, /<label for="username">Username<\/label>/);
    t.match(page.body, /<label for="password">Password<\/label>/);
    t.match(page.body, /Example App/);
    t.match(
      page.headers['content-security-policy'],
      /default-src 'none'.*form-action 'self' https:\/\/app\.example\.com.*frame-ancestors 'none'/,
    );
    t.equal(page.headers['x-content-type-options'], 'nosniff');
    t.ok(page.headers['strict-transport-security'] || page.headers['x-frame-options'], 'helmet headers');
    t.match(cookiesOf(page).tessera_login_csrf, /HttpOnly; SameSite=Strict/);
  });

  t.test('public client: sign in, get a code, exchange it with the verifier', async (t) => {
    const { verifier, challenge } = pkcePair();
    const res = await signIn(app, query(spa, challenge), username, password);
    const url = location(t, res);
    t.equal(`${url.origin}${url.pathname}`, REDIRECT);
    t.equal(url.searchParams.get('state'), 'xyz', 'state passed back');
    t.equal(url.searchParams.get('iss'), ISSUER, 'RFC 9207 iss');
    const code = url.searchParams.get('code')!;
    t.match(code, /^tsc_/);
    t.match(cookiesOf(res).tessera_session, /^tessera_session=[^;]+; Max-Age=36000; Path=\/; HttpOnly; SameSite=Lax$/, 'a session starts');
    const tokens = await exchange(spa, code, verifier);
    t.equal(tokens.statusCode, 200);
    t.match(tokens.body_, { token_type: 'Bearer', scope: 'profile email', refresh_token: /^tsr_/ });
    t.equal((await post(app, '/token/verify', { token: tokens.body_.access_token as string })).statusCode, 200);
  });

  t.test('the OpenID Connect parameters ride through the sign-in form', async (t) => {
    const { challenge } = pkcePair();
    const extra = { nonce: 'n-0S6_WzA2Mj', prompt: 'login', max_age: '0', login_hint: username };
    const res = await signIn(app, query(spa, challenge, extra), username, password, (form) => t.match(form, extra, 'as hidden fields'));
    const code = (await tessera.tokens.findCode(location(t, res).searchParams.get('code')!))!;
    t.equal(code.nonce, extra.nonce, 'the nonce reaches the code');
    t.ok(code.sessionId && code.authTime, 'and so do the session and the sign-in time');
  });

  t.test('confidential client', async (t) => {
    const { verifier, challenge } = pkcePair();
    const url = location(t, await signIn(app, query(web, challenge, { scope: '' }), username, password));
    const tokens = await exchange(web, url.searchParams.get('code')!, verifier);
    t.equal(tokens.statusCode, 200);
  });

  t.test('wrong code_verifier', async (t) => {
    const { challenge } = pkcePair();
    const code = location(t, await signIn(app, query(spa, challenge), username, password)).searchParams.get('code')!;
    const res = await exchange(spa, code, pkcePair().verifier);
    t.equal(res.statusCode, 400);
    t.equal(res.body_.error, 'invalid_grant');
    const missing = await tokenRequest(app, spa, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    t.equal(missing.body_.error, 'invalid_grant', 'a failed attempt used the code up');
  });

  t.test('a reused code fails and revokes what the first use issued', async (t) => {
    const { verifier, challenge } = pkcePair();
    const code = location(t, await signIn(app, query(spa, challenge), username, password)).searchParams.get('code')!;
    const first = await exchange(spa, code, verifier);
    t.equal(first.statusCode, 200);
    const second = await exchange(spa, code, verifier);
    t.equal(second.statusCode, 400);
    t.equal(second.body_.error, 'invalid_grant');
    t.equal(
      (await post(app, '/token/verify', { token: first.body_.access_token as string })).statusCode,
      401,
      'the first access token is revoked',
    );
    const refresh = await tokenRequest(app, spa, { grant_type: 'refresh_token', refresh_token: first.body_.refresh_token as string });
    t.equal(refresh.body_.error, 'invalid_grant', 'and its refresh token');
  });

  t.test('an expired code', async (t) => {
    const { verifier, challenge } = pkcePair();
    const code = location(t, await signIn(app, query(spa, challenge), username, password)).searchParams.get('code')!;
    await new Promise((r) => setTimeout(r, 2100));
    const res = await exchange(spa, code, verifier);
    t.equal(res.body_.error, 'invalid_grant');
  });

  t.test('a code is bound to its client and redirect URI', async (t) => {
    const { verifier, challenge } = pkcePair();
    const code = location(t, await signIn(app, query(web, challenge), username, password)).searchParams.get('code')!;
    const otherRedirect = await exchange(web, code, verifier, 'https://app.example.com/other');
    t.equal(otherRedirect.body_.error, 'invalid_grant', 'another registered redirect URI');
    const { verifier: v2, challenge: c2 } = pkcePair();
    const code2 = location(t, await signIn(app, query(web, c2), username, password)).searchParams.get('code')!;
    t.equal((await exchange(spa, code2, v2)).body_.error, 'invalid_grant', 'another client');
  });

  t.test('requests that are shown an error page, never redirected', async (t) => {
    const { challenge } = pkcePair();
    for (const [name, q] of [
      ['unregistered redirect_uri', query(spa, challenge, { redirect_uri: 'https://evil.example/cb' })],
      ['redirect_uri differing by a slash', query(spa, challenge, { redirect_uri: `${REDIRECT}/` })],
      ['missing redirect_uri', { ...query(spa, challenge), redirect_uri: '' }],
      ['unknown client', query({ id: 'nope' }, challenge)],
    ] as const) {
      const res = await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams(q)}` });
      t.equal(res.statusCode, 400, `${name}: 400`);
      t.notOk(res.headers.location, `${name}: no redirect`);
      t.match(res.body, /role="alert"[^>]*>[^<]*(client_id|redirect_uri)/, `${name}: an error page that says what is wrong`);
    }
    const repeated = await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams(query(spa, challenge))}&state=again` });
    t.equal(repeated.statusCode, 400, 'a repeated parameter');
  });

  t.test('errors redirected to the client (RFC 6749 §4.1.2.1)', async (t) => {
    const { challenge } = pkcePair();
    const cases: [string, Record<string, string>, string][] = [
      ['plain challenge', query(spa, challenge, { code_challenge_method: 'plain' }), 'invalid_request'],
      ['no challenge method', { ...query(spa, challenge), code_challenge_method: '' }, 'invalid_request'],
      ['no challenge', { ...query(spa, challenge), code_challenge: '' }, 'invalid_request'],
      ['token response type', query(spa, challenge, { response_type: 'token' }), 'unsupported_response_type'],
      ['scope not allowed', query(spa, challenge, { scope: 'admin' }), 'invalid_scope'],
    ];
    for (const [name, q, error] of cases) {
      const url = location(t, await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams(q)}` }));
      t.equal(url.searchParams.get('error'), error, `${name}: ${error}`);
      t.equal(url.searchParams.get('state'), 'xyz', `${name}: state passed back`);
    }
    const pwOnly = await registerClient(tessera, { grants: ['password'], redirectUris: [REDIRECT] });
    const unauthorized = location(
      t,
      await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams(query(pwOnly, challenge))}` }),
    );
    t.equal(unauthorized.searchParams.get('error'), 'unauthorized_client');
  });

  t.test('without state, none comes back', async (t) => {
    const { verifier, challenge } = pkcePair();
    const q = query(spa, challenge);
    delete (q as Record<string, string>).state;
    const url = location(t, await signIn(app, q, username, password));
    t.notOk(url.searchParams.has('state'));
    t.equal((await exchange(spa, url.searchParams.get('code')!, verifier)).statusCode, 200);
  });

  t.test('the sign-in form refuses a missing or wrong CSRF token', async (t) => {
    const { challenge } = pkcePair();
    const wrong = await signIn(app, query(spa, challenge), username, password, (form) => (form.csrf = 'forged'));
    t.equal(wrong.statusCode, 403);
    t.notOk(wrong.headers.location);
    t.match(wrong.body, /role="alert"/);
    const missing = await signIn(app, query(spa, challenge), username, password, (form) => delete form.csrf);
    t.equal(missing.statusCode, 403);
    const noCookie = await app.inject({
      method: 'POST',
      url: '/authorize',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ ...query(spa, challenge), username, password, csrf: 'x' }).toString(),
    });
    t.equal(noCookie.statusCode, 403, 'no cookie');
  });

  t.test('a wrong password shows the form again', async (t) => {
    const { challenge } = pkcePair();
    const res = await signIn(app, query(spa, challenge), username, 'not the password');
    t.equal(res.statusCode, 401);
    t.notOk(res.headers.location);
    t.match(res.body, /username or password is not right/);
    t.match(res.body, new RegExp(`value="${username}"`), 'the username is kept');
  });
});

t.test('browser clients keep their refresh token in a cookie', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const spa = await registerClient(tessera, { public: true, redirectUris: [REDIRECT], browser: true });
  const { verifier, challenge } = pkcePair();
  const res = await signIn(
    app,
    { response_type: 'code', client_id: spa.id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' },
    username,
    password,
  );
  const code = new URL(res.headers.location as string).searchParams.get('code')!;
  const tokens = await tokenRequest(app, spa, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });
  t.equal(tokens.statusCode, 200);
  t.notOk('refresh_token' in tokens.body_, 'no refresh token in the body');
  const cookies = cookiesOf(tokens);
  // The issuer is http://localhost: Secure may be dropped there, and only there.
  t.match(cookies.tessera_refresh, /^tessera_refresh=tsr_[^;]+; Max-Age=86400; Path=\/token; HttpOnly; SameSite=Strict$/);
  t.match(cookies.tessera_csrf, /^tessera_csrf=[^;]+; Max-Age=86400; Path=\/; SameSite=Strict$/);
  t.notMatch(cookies.tessera_csrf, /HttpOnly/, 'the CSRF cookie is readable');

  const refreshCookie = cookieValue(cookies.tessera_refresh!);
  const csrf = cookieValue(cookies.tessera_csrf!);
  const refresh = (headers: Record<string, string>, form: Record<string, string> = {}) =>
    post(app, '/token/refresh', { client_id: spa.id, ...form }, { headers });
  const cookieHeader = `tessera_refresh=${refreshCookie}; tessera_csrf=${csrf}`;

  const noHeader = await refresh({ cookie: cookieHeader });
  t.equal(noHeader.statusCode, 400);
  t.equal(noHeader.body_.error, 'invalid_request', 'no X-CSRF-Token');
  const wrongHeader = await refresh({ cookie: cookieHeader, 'x-csrf-token': 'forged' });
  t.equal(wrongHeader.statusCode, 400, 'a wrong X-CSRF-Token');
  const inBody = await refresh({ cookie: cookieHeader, 'x-csrf-token': csrf }, { refresh_token: refreshCookie });
  t.equal(inBody.statusCode, 400, 'a refresh token in the body is refused');
  const noCookie = await refresh({ 'x-csrf-token': csrf });
  t.equal(noCookie.statusCode, 400, 'no cookie');

  const ok = await refresh({ cookie: cookieHeader, 'x-csrf-token': csrf });
  t.equal(ok.statusCode, 200);
  t.notOk('refresh_token' in ok.body_);
  const rotated = cookiesOf(ok);
  t.not(cookieValue(rotated.tessera_refresh!), refreshCookie, 'the refresh cookie rotates');
  t.equal(cookieValue(rotated.tessera_csrf!), csrf, 'the CSRF cookie stays: it is bound to the refresh family');
  const replay = await refresh({ cookie: cookieHeader, 'x-csrf-token': csrf });
  t.equal(replay.body_.error, 'invalid_grant', 'the old cookie is used up');
});

t.test('cookies are Secure unless the issuer is plain http on the loopback', async (t) => {
  const { app, tessera } = await startTessera(t, { env: { TESSERA_ISSUER: 'https://auth.example.com' } });
  const { username, password } = await registerUser(tessera);
  const browserPw = await registerClient(tessera, { public: true, grants: ['password'], browser: true });
  const res = await tokenRequest(app, browserPw, { grant_type: 'password', username, password });
  t.equal(res.statusCode, 200);
  const cookies = cookiesOf(res);
  t.match(cookies.tessera_refresh, /; Secure/);
  t.match(cookies.tessera_csrf, /; Secure/);
});

t.test('throttling of password checks', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  await registerUser(tessera, 'other', 'other password 1');
  const client = await registerClient(tessera, { grants: ['password'] });
  const spa = await registerClient(tessera, { public: true, redirectUris: [REDIRECT] });
  const attempt = (user: string, pass: string) => tokenRequest(app, client, { grant_type: 'password', username: user, password: pass });

  for (let i = 1; i <= 10; i++) {
    const res = await attempt(username, `wrong ${i}`);
    t.equal(res.statusCode, 400, `failure ${i}: invalid_grant`);
  }
  const throttled = await attempt(username, 'wrong again');
  t.equal(throttled.statusCode, 429, 'the 11th attempt is throttled');
  t.match(throttled.headers['retry-after'], /^\d+$/);
  t.ok(Number(throttled.headers['retry-after']) > 0 && Number(throttled.headers['retry-after']) <= 900);
  t.equal(throttled.body_.error, 'temporarily_unavailable');
  t.equal((await attempt(username, password)).statusCode, 429, 'even the right password, so throttling reveals nothing');

  // The same address is throttled for every username, at the login form too.
  t.equal((await attempt('other', 'other password 1')).statusCode, 429, 'per address');
  const { challenge } = pkcePair();
  const form = await signIn(
    app,
    { response_type: 'code', client_id: spa.id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' },
    'other',
    'other password 1',
  );
  t.equal(form.statusCode, 429, 'the login form is throttled as well');
  t.match(form.headers['retry-after'], /^\d+$/);
});

t.test('successful sign-ins are not throttled', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const client = await registerClient(tessera, { grants: ['password'] });
  for (let i = 0; i < 15; i++) {
    t.equal((await tokenRequest(app, client, { grant_type: 'password', username, password })).statusCode, 200, `sign-in ${i + 1}`);
  }
});
