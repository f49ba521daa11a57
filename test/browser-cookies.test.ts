// Browser clients' cookie mode, hardened: every request that sets or uses the cookies must come
// from one of the client's origins, the CSRF value is bound to the refresh family, and
// POST /token/logout ends the family and clears both cookies.
import t, { type Test } from 'tap';
import { basic, post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';

const REDIRECT = 'https://app.example.com/callback';
const REDIRECT_ORIGIN = 'https://app.example.com';
const EXTRA_ORIGIN = 'https://spa.example.net';
const EVIL = 'https://evil.example';

type Response = Awaited<ReturnType<typeof post>>;
type Headers = Record<string, string>;

function setCookies(res: Response): Record<string, string> {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  return Object.fromEntries(list.map((c) => [c.split('=')[0]!, c]));
}
const valueOf = (setCookie: string | undefined) => (setCookie ?? '').split(';')[0]!.split('=').slice(1).join('=');

/** What the browser holds after a sign-in or a refresh: the two cookies (and the access token). */
interface Session {
  refresh: string;
  csrf: string;
  accessToken: string;
}

function sessionOf(t: Test, res: Response): Session {
  t.equal(res.statusCode, 200, 'tokens issued');
  const cookies = setCookies(res);
  return { refresh: valueOf(cookies.tessera_refresh), csrf: valueOf(cookies.tessera_csrf), accessToken: res.body_.access_token as string };
}

/** A server with a browser client (a redirect URI on one origin, a second origin registered). */
async function setup(t: Test, tokenFormat: 'opaque' | 'jwt' = 'opaque') {
  const { app, tessera } = await startTessera(t);
  const { user, username, password } = await registerUser(tessera);
  const spa = await registerClient(tessera, {
    public: true,
    grants: ['authorization_code', 'password'],
    redirectUris: [REDIRECT],
    origins: [EXTRA_ORIGIN],
    browser: true,
    tokenFormat,
  });
  const cookieHeader = (session: Pick<Session, 'refresh' | 'csrf'>) => ({
    cookie: `tessera_refresh=${session.refresh}; tessera_csrf=${session.csrf}`,
  });
  const signIn = (headers: Headers = {}, client = spa) =>
    post(app, '/token', { grant_type: 'password', client_id: client.id, username, password }, { headers });
  const refresh = (session: Pick<Session, 'refresh' | 'csrf'>, csrfHeader: string, headers: Headers = {}) =>
    post(app, '/token/refresh', { client_id: spa.id }, { headers: { ...cookieHeader(session), 'x-csrf-token': csrfHeader, ...headers } });
  const logout = (session: Pick<Session, 'refresh' | 'csrf'> | null, csrfHeader: string | null, headers: Headers = {}) =>
    post(
      app,
      '/token/logout',
      { client_id: spa.id },
      {
        headers: {
          ...(session ? cookieHeader(session) : {}),
          ...(csrfHeader === null ? {} : { 'x-csrf-token': csrfHeader }),
          ...headers,
        },
      },
    );
  const newCode = async () => {
    const { verifier, challenge } = pkcePair();
    const code = await tessera.tokens.issueCode({
      clientId: spa.id,
      userId: user.id,
      redirectUri: REDIRECT,
      scope: '',
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    });
    return { code, verifier };
  };
  const exchange = (code: { code: string; verifier: string }, headers: Headers = {}) =>
    post(
      app,
      '/token',
      { grant_type: 'authorization_code', client_id: spa.id, code: code.code, code_verifier: code.verifier, redirect_uri: REDIRECT },
      { headers },
    );
  const active = async (token: string) => (await post(app, '/token/verify', { token })).statusCode === 200;
  return { app, tessera, signIn, refresh, logout, newCode, exchange, active };
}

function refused(t: Test, res: Response, what: string) {
  t.equal(res.statusCode, 403, `${what}: 403`);
  t.equal(res.body_.error, 'invalid_request', `${what}: invalid_request`);
  t.notOk(res.headers['set-cookie'], `${what}: no cookie set`);
  t.notOk(res.body_.access_token, `${what}: no token issued`);
}

t.test('a request from outside the client origins is refused before the grant runs', async (t) => {
  const { tessera, signIn, refresh, logout, newCode, exchange, active } = await setup(t);

  refused(t, await signIn({ origin: EVIL }), 'password grant from another origin');
  refused(t, await signIn({ origin: 'null' }), 'password grant from the opaque origin null');
  refused(t, await signIn({ origin: `${REDIRECT_ORIGIN}.evil.example` }), 'password grant from a look-alike origin');
  refused(t, await signIn({ 'sec-fetch-site': 'cross-site' }), 'password grant cross-site without Origin');
  refused(t, await signIn({ origin: EVIL, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' }), 'a cross-site form post');
  // A custom-scheme redirect URI would have the opaque origin "null": such URIs are refused at
  // registration (https or loopback http only), so `Origin: null` can never be an allowed origin.
  await t.rejects(
    registerClient(tessera, { public: true, grants: ['password'], redirectUris: ['com.example.app:/callback'], browser: true }),
    /must use https/,
    'a custom-scheme redirect URI is refused',
  );

  const code = await newCode();
  refused(t, await exchange(code, { origin: EVIL }), 'authorization_code from another origin');
  refused(t, await exchange(code, { 'sec-fetch-site': 'cross-site' }), 'authorization_code cross-site without Origin');
  sessionOf(t, await exchange(code, { origin: REDIRECT_ORIGIN, 'sec-fetch-site': 'cross-site' }));

  const session = sessionOf(t, await signIn({ origin: REDIRECT_ORIGIN }));
  refused(t, await refresh(session, session.csrf, { origin: EVIL }), '/token/refresh from another origin');
  refused(t, await refresh(session, session.csrf, { 'sec-fetch-site': 'cross-site' }), '/token/refresh cross-site without Origin');
  refused(t, await logout(session, session.csrf, { origin: EVIL }), '/token/logout from another origin');
  refused(t, await logout(session, session.csrf, { 'sec-fetch-site': 'cross-site' }), '/token/logout cross-site without Origin');
  t.ok(await active(session.accessToken), 'the refused logouts revoked nothing');
  t.equal((await refresh(session, session.csrf, { origin: EXTRA_ORIGIN })).statusCode, 200, 'and the refresh cookie was not used up');
});

t.test('the client origins are accepted, and so is a request without Origin or Sec-Fetch-Site', async (t) => {
  const { app, tessera, signIn, refresh, logout, newCode, exchange } = await setup(t);
  const accepted: [string, Headers][] = [
    ['the redirect URI origin', { origin: REDIRECT_ORIGIN }],
    ['a registered origin', { origin: EXTRA_ORIGIN }],
    ['a registered origin, cross-site', { origin: EXTRA_ORIGIN, 'sec-fetch-site': 'cross-site' }],
    ['same-site without Origin', { 'sec-fetch-site': 'same-site' }],
    ['same-origin without Origin', { 'sec-fetch-site': 'same-origin' }],
    ['no Origin and no Sec-Fetch-Site', {}],
  ];
  for (const [what, headers] of accepted) {
    const session = sessionOf(t, await signIn(headers));
    t.ok(session.refresh && session.csrf, `${what}: sign-in sets both cookies`);
    const code = await newCode();
    t.equal((await exchange(code, headers)).statusCode, 200, `${what}: authorization_code`);
    const refreshed = await refresh(session, session.csrf, headers);
    t.equal(refreshed.statusCode, 200, `${what}: refresh`);
    const next = sessionOf(t, refreshed);
    const out = await logout({ refresh: next.refresh, csrf: next.csrf }, next.csrf, headers);
    t.equal(out.statusCode, 204, `${what}: logout`);
  }

  // Clients that are not browser clients set no cookies, and the origin rules do not apply to them.
  const server = await registerClient(tessera, { grants: ['client_credentials'] });
  const basic = await tokenRequest(app, server, { grant_type: 'client_credentials' });
  t.equal(basic.statusCode, 200);
  const other = await registerClient(tessera, { public: true, grants: ['password'] });
  const plain = await signIn({ origin: EVIL }, other);
  t.equal(plain.statusCode, 200, 'a non-browser client is not origin-checked');
  t.ok(plain.body_.refresh_token, 'and gets its refresh token in the body');
});

t.test('the CSRF value is bound to the refresh family', async (t) => {
  const { signIn, refresh } = await setup(t);
  const a = sessionOf(t, await signIn());
  const b = sessionOf(t, await signIn());
  t.not(a.csrf, b.csrf, 'each family has its own CSRF value');

  const fromOtherFamily = await refresh({ refresh: a.refresh, csrf: b.csrf }, b.csrf);
  t.equal(fromOtherFamily.statusCode, 400, 'the CSRF value of another family is refused');
  t.equal(fromOtherFamily.body_.error, 'invalid_request');
  t.notOk(fromOtherFamily.headers['set-cookie']);
  const invented = await refresh({ refresh: a.refresh, csrf: 'attacker' }, 'attacker');
  t.equal(invented.statusCode, 400, 'an invented CSRF value is refused, even when cookie and header agree');
  t.equal(invented.body_.error, 'invalid_request');
  const cookieOnly = await refresh(a, 'attacker');
  t.equal(cookieOnly.statusCode, 400, 'the header must hold the value, not merely some value');

  const first = await refresh(a, a.csrf);
  t.equal(first.statusCode, 200, 'the family own value is accepted (the refused tries used nothing up)');
  const rotated = sessionOf(t, first);
  t.not(rotated.refresh, a.refresh, 'the refresh cookie rotates');
  t.equal(rotated.csrf, a.csrf, 'the CSRF value stays: it belongs to the family');
  t.equal((await refresh(rotated, a.csrf)).statusCode, 200, 'and stays valid after the rotation');
  t.equal((await refresh({ refresh: b.refresh, csrf: a.csrf }, a.csrf)).statusCode, 400, 'but not for another family');
});

for (const format of ['opaque', 'jwt'] as const) {
  t.test(`POST /token/logout ends the family (${format} access tokens) and clears both cookies`, async (t) => {
    const { tessera, signIn, refresh, logout, active } = await setup(t, format);
    const first = sessionOf(t, await signIn({ origin: REDIRECT_ORIGIN }));
    const current = sessionOf(t, await refresh(first, first.csrf, { origin: REDIRECT_ORIGIN }));
    const other = sessionOf(t, await signIn({ origin: REDIRECT_ORIGIN }));

    const forged = await logout(current, other.csrf, { origin: REDIRECT_ORIGIN });
    t.equal(forged.statusCode, 400, 'a CSRF value of another family is refused');
    t.equal(forged.body_.error, 'invalid_request');
    t.notOk(forged.headers['set-cookie'], 'and clears nothing');
    t.equal((await logout(current, null)).statusCode, 400, 'so is a missing X-CSRF-Token');
    t.ok(await active(current.accessToken), 'nothing was revoked');

    const out = await logout(current, current.csrf, { origin: REDIRECT_ORIGIN });
    t.equal(out.statusCode, 204);
    t.equal(out.body, '', 'no body');
    t.equal(out.headers['cache-control'], 'no-store');
    const cleared = setCookies(out);
    t.match(cleared.tessera_refresh, /^tessera_refresh=; Max-Age=0; Path=\/token; HttpOnly; SameSite=Strict$/);
    t.match(cleared.tessera_csrf, /^tessera_csrf=; Max-Age=0; Path=\/; SameSite=Strict$/);

    const after = await refresh(current, current.csrf);
    t.equal(after.statusCode, 400);
    t.equal(after.body_.error, 'invalid_grant', 'the refresh cookie no longer works');
    t.notOk(await active(current.accessToken), 'the access token reads inactive at /token/verify');
    t.notOk(await active(first.accessToken), 'and so does the one issued before the rotation');
    t.ok(await active(other.accessToken), 'another sign-in of the same user lives on');
    t.equal((await refresh(other, other.csrf)).statusCode, 200);

    // Another browser client presenting this cookie (it is the same cookie jar) ends nothing.
    const second = await registerClient(tessera, { public: true, grants: ['password'], redirectUris: [REDIRECT], browser: true });
    const third = sessionOf(t, await signIn({}, second));
    const byOther = await logout(third, third.csrf);
    t.equal(byOther.statusCode, 204, 'a cookie of another client');
    t.ok(await active(third.accessToken), 'is not revoked by this one');
  });
}

t.test('POST /token/logout without a cookie, and for clients it is not for', async (t) => {
  const { app, tessera, logout } = await setup(t);
  const bare = await logout(null, null);
  t.equal(bare.statusCode, 204, 'no cookie: still 204');
  const cleared = setCookies(bare);
  t.match(cleared.tessera_refresh, /^tessera_refresh=; Max-Age=0; Path=\/token; HttpOnly; SameSite=Strict$/);
  t.match(cleared.tessera_csrf, /^tessera_csrf=; Max-Age=0; Path=\/; SameSite=Strict$/);
  const unknown = await logout({ refresh: 'tsr_notatoken', csrf: 'x' }, 'x');
  t.equal(unknown.statusCode, 204, 'a cookie that is not one of ours: nothing to end');
  t.ok(setCookies(unknown).tessera_refresh, 'and the cookies are cleared');

  const confidential = await registerClient(tessera, { grants: ['password'] });
  const notBrowser = await post(app, '/token/logout', {}, { headers: { authorization: basic(confidential.id, confidential.secret!) } });
  t.equal(notBrowser.statusCode, 400);
  t.equal(notBrowser.body_.error, 'invalid_request', 'a client that is not a browser client');
  t.notOk(notBrowser.headers['set-cookie']);
  const anonymous = await post(app, '/token/logout', {});
  t.equal(anonymous.statusCode, 401, 'no client at all');
  t.equal(anonymous.body_.error, 'invalid_client');
});
