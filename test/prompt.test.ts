// The OpenID Connect parameters of /authorize (Core 1.0 §3.1.2.1) and the consent of third-party
// clients: prompt (none, login, consent, select_account), max_age, nonce, login_hint, the refused
// request objects, and the consent page — shown, approved, remembered, asked again for a new
// scope, denied, and answered by prompt=none.
import t, { type Test } from 'tap';
import { dialectFor } from '../src/store/dialects/index.ts';
import { ISSUER, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';
import { authorizationRequest, hiddenFields, PageBrowser, redirected } from './helpers/page-flow.ts';

const REDIRECT = 'https://app.example.com/cb';
const SCOPES = ['openid', 'profile', 'email'];

async function setUp(t: Test) {
  const running = await startTessera(t);
  const { tessera } = running;
  const alice = await registerUser(tessera);
  const firstParty = await registerClient(tessera, { name: 'First', public: true, redirectUris: [REDIRECT], scopes: SCOPES });
  const thirdParty = await registerClient(tessera, {
    name: 'Third <Party>',
    public: true,
    redirectUris: [REDIRECT],
    scopes: SCOPES,
    consent: true,
  });
  const view = await dialectFor(running.db.url).open(running.db.url, (error) => t.error(error));
  t.teardown(() => view.close());
  return { ...running, alice, firstParty, thirdParty, view };
}

type SetUp = Awaited<ReturnType<typeof setUp>>;

const isSignInPage = (res: { statusCode: number; body: string }) => res.statusCode === 200 && /name="password"/.test(res.body);
const isConsentPage = (res: { statusCode: number; body: string }) => res.statusCode === 200 && /name="decision"/.test(res.body);

/** A browser signed in (through the first-party client, which asks no consent). */
async function signedIn(t: Test, { app, alice, firstParty }: SetUp): Promise<PageBrowser> {
  const browser = new PageBrowser(app);
  const page = await browser.get(authorizationRequest(firstParty.id, REDIRECT).url);
  redirected(t, await browser.submit(page, { username: alice.username, password: alice.password }), 'signed in');
  return browser;
}

t.test('prompt', async (t) => {
  const running = await setUp(t);
  const { app, tessera, alice, firstParty } = running;
  const bob = await registerUser(tessera, 'bob', 'bob password 1234');
  const url = (extra: Record<string, string>) => authorizationRequest(firstParty.id, REDIRECT, extra).url;

  t.test('none, without a session: login_required, back to the client', async (t) => {
    const answer = redirected(t, await new PageBrowser(app).get(url({ prompt: 'none' })));
    t.equal(answer.get('error'), 'login_required');
    t.equal(answer.get('state'), 'st-1');
    t.equal(answer.get('iss'), ISSUER);
    t.notOk(answer.get('code'));
  });

  t.test('none, with a session: the code', async (t) => {
    const browser = await signedIn(t, running);
    t.ok(redirected(t, await browser.get(url({ prompt: 'none' }))).get('code'));
  });

  t.test('login (and select_account): the sign-in page even with a session, then a new sign-in', async (t) => {
    const browser = await signedIn(t, running);
    const before = (await tessera.sessions.find(browser.cookie('tessera_session')))!;
    for (const prompt of ['login', 'select_account', 'login consent']) {
      t.ok(isSignInPage(await browser.get(url({ prompt }))), `prompt=${prompt}: the sign-in page`);
    }
    const page = await browser.get(url({ prompt: 'login', login_hint: 'bob' }));
    t.match(page.body, /value="bob"/, 'login_hint prefills the username');
    await new Promise((r) => setTimeout(r, 1100));
    const answer = redirected(t, await browser.submit(page, { username: bob.username, password: bob.password }));
    const code = (await tessera.tokens.findCode(answer.get('code')!))!;
    t.equal(code.userId, bob.user.id, 'whoever signs in gets the code');
    t.ok(code.authTime!.getTime() > before.record.authTime.getTime(), 'with the new sign-in time');
    t.not(code.sessionId, before.record.id, 'under a new session');
  });

  t.test('bad values: invalid_request, back to the client', async (t) => {
    const browser = await signedIn(t, running);
    for (const prompt of ['none login', 'none consent', 'bogus', 'login Login']) {
      const answer = redirected(t, await browser.get(url({ prompt })));
      t.equal(answer.get('error'), 'invalid_request', `prompt=${prompt}`);
      t.equal(answer.get('state'), 'st-1');
    }
  });

  t.test('the signed-in user may be the same one', async (t) => {
    const browser = await signedIn(t, running);
    const page = await browser.get(url({ prompt: 'login' }));
    t.match(page.body, /value=""/, 'no hint: the username is empty');
    const answer = redirected(t, await browser.submit(page, { username: alice.username, password: alice.password }));
    t.equal((await tessera.tokens.findCode(answer.get('code')!))!.userId, alice.user.id);
  });
});

t.test('id_token_hint', async (t) => {
  const running = await setUp(t);
  const { app, tessera, firstParty } = running;
  const bob = await registerUser(tessera, 'bob', 'bob password 1234');
  /** An ID token of `user`, from a sign-in in a browser of their own. */
  const idTokenOf = async (user: { username: string; password: string }) => {
    const browser = new PageBrowser(app);
    const request = authorizationRequest(firstParty.id, REDIRECT, { scope: 'openid' });
    const page = await browser.get(request.url);
    const code = redirected(t, await browser.submit(page, { username: user.username, password: user.password })).get('code')!;
    const tokens = await tokenRequest(app, firstParty, {
      grant_type: 'authorization_code',
      code,
      code_verifier: request.verifier,
      redirect_uri: REDIRECT,
    });
    return tokens.body_.id_token as string;
  };
  const alicesHint = await idTokenOf(running.alice);
  const bobsHint = await idTokenOf(bob);
  const browser = await signedIn(t, running);
  const url = (extra: Record<string, string>) => authorizationRequest(firstParty.id, REDIRECT, { scope: 'openid', ...extra }).url;

  t.ok(redirected(t, await browser.get(url({ id_token_hint: alicesHint, prompt: 'none' }))).get('code'), "the session's user: the code");
  const other = redirected(t, await browser.get(url({ id_token_hint: bobsHint, prompt: 'none', state: 's' })));
  t.equal(other.get('error'), 'login_required', 'another user, prompt=none: login_required');
  t.equal(other.get('state'), 's');
  const page = await browser.get(url({ id_token_hint: bobsHint }));
  t.ok(isSignInPage(page), 'another user: the sign-in page');
  t.match(hiddenFields(page.body), { id_token_hint: bobsHint }, 'carrying the hint');
  const [header, payload] = bobsHint.split('.') as [string, string];
  for (const bad of ['not even a JWT', `${header}.${payload}.`]) {
    const refused = redirected(t, await browser.get(url({ id_token_hint: bad })));
    t.equal(refused.get('error'), 'invalid_request', 'a hint that is no ID token of this server: invalid_request');
  }
});

t.test('max_age', async (t) => {
  const running = await setUp(t);
  const { app, tessera, alice, firstParty, view } = running;
  const url = (extra: Record<string, string>) => authorizationRequest(firstParty.id, REDIRECT, extra).url;
  const browser = await signedIn(t, running);
  const session = (await tessera.sessions.find(browser.cookie('tessera_session')))!;
  // A sign-in 10 s ago, as if that time had passed: the server forgets what it cached.
  await view.db.session.update({ where: { id: session.record.id }, data: { authTime: new Date(Date.now() - 10_000) } });
  tessera.sessions.forgetAll();

  t.ok(redirected(t, await browser.get(url({ max_age: '3600' }))).get('code'), 'a sign-in 10 s old is younger than an hour');
  t.ok(redirected(t, await browser.get(url({ max_age: '99999999999999999999' }))).get('code'), 'a huge max_age means no limit');
  t.ok(redirected(t, await browser.get(url({ max_age: '9'.repeat(400) }))).get('code'), 'however huge');
  t.ok(isSignInPage(await browser.get(url({ max_age: '5' }))), 'a sign-in 10 s old is older than 5 s: the sign-in page');
  const none = redirected(t, await browser.get(url({ max_age: '5', prompt: 'none' })));
  t.equal(none.get('error'), 'login_required', 'with prompt=none: login_required');

  for (const maxAge of ['-1', '1.5', 'abc', ' 5', '0x10', '1e3']) {
    const answer = redirected(t, await browser.get(url({ max_age: maxAge })));
    t.equal(answer.get('error'), 'invalid_request', `max_age=${JSON.stringify(maxAge)}: invalid_request`);
  }

  // max_age=0: a sign-in every time, and the sign-in just made is enough (no loop back to the form).
  const page = await browser.get(url({ max_age: '0' }));
  t.ok(isSignInPage(page), 'max_age=0: the sign-in page');
  const answer = redirected(t, await browser.submit(page, { username: alice.username, password: alice.password }));
  t.ok(answer.get('code'), 'after signing in: the code');
  t.ok(isSignInPage(await browser.get(url({ max_age: '0' }))), 'and the next request asks again');
  t.ok(await new PageBrowser(app).get(url({ max_age: '0' })), 'served without a session too');
});

t.test('nonce, login_hint, ignored and refused parameters', async (t) => {
  const running = await setUp(t);
  const { app, tessera, firstParty } = running;
  const url = (extra: Record<string, string>) => authorizationRequest(firstParty.id, REDIRECT, extra).url;
  const browser = await signedIn(t, running);

  const longest = redirected(t, await browser.get(url({ nonce: 'n'.repeat(512) })));
  t.equal((await tessera.tokens.findCode(longest.get('code')!))!.nonce, 'n'.repeat(512), 'a nonce of 512 characters goes on the code');
  const tooLong = redirected(t, await browser.get(url({ nonce: 'n'.repeat(513) })));
  t.equal(tooLong.get('error'), 'invalid_request', 'a nonce of 513 characters: invalid_request');

  const ignored = redirected(
    t,
    await browser.get(
      url({
        display: 'popup',
        ui_locales: 'fr',
        claims_locales: 'fr',
        acr_values: 'urn:x',
        response_mode: 'query',
      }),
    ),
  );
  t.ok(ignored.get('code'), 'display, ui_locales, claims_locales, acr_values: accepted and ignored');

  const request = redirected(t, await browser.get(url({ request: 'eyJhbGciOiJub25lIn0.e30.' })));
  t.equal(request.get('error'), 'request_not_supported');
  t.equal(request.get('state'), 'st-1');
  const requestUri = redirected(t, await browser.get(url({ request_uri: 'https://app.example.com/request.jwt' })));
  t.equal(requestUri.get('error'), 'request_uri_not_supported');

  const page = await new PageBrowser(app).get(url({ login_hint: 'al<i>ce' }));
  t.match(page.body, /value="al&lt;i&gt;ce"/, 'login_hint prefills the username, escaped');
  t.equal(hiddenFields(page.body).login_hint, 'al<i>ce', 'and rides along with the form');
});

t.test('consent of third-party clients', async (t) => {
  const running = await setUp(t);
  const { app, tessera, alice, thirdParty, firstParty } = running;
  const url = (extra: Record<string, string>) => authorizationRequest(thirdParty.id, REDIRECT, extra).url;

  t.test('after the sign-in: the consent page; allowed, remembered, covering subsets; a new scope asks again', async (t) => {
    const browser = new PageBrowser(app);
    const signInPage = await browser.get(url({ scope: 'openid profile' }));
    t.ok(isSignInPage(signInPage));
    const consent = await browser.submit(signInPage, { username: alice.username, password: alice.password });
    t.ok(isConsentPage(consent), 'the consent page follows the sign-in');
    t.match(consent.body, /Third &lt;Party&gt;/, 'names the client, escaped');
    t.match(consent.body, />alice</, 'and who is signed in');
    t.match(consent.body, /Your name and username/, 'lists the scopes');
    t.notMatch(consent.body, /Your email address/, 'only those asked for');
    t.match(consent.headers['content-security-policy'], /form-action 'self' https:\/\/app\.example\.com/);
    t.equal(hiddenFields(consent.body).scope, 'openid profile');

    const allowed = redirected(t, await browser.submit(consent, { decision: 'allow' }));
    t.ok(allowed.get('code'), 'allowed: the code');
    t.equal(allowed.get('state'), 'st-1');
    t.equal(allowed.get('iss'), ISSUER);
    t.ok(await tessera.consents.covers(alice.user.id, thirdParty.id, ['openid', 'profile']), 'the approval is stored');

    t.ok(redirected(t, await browser.get(url({ scope: 'openid profile' }))).get('code'), 'the same request again: no page');
    t.ok(redirected(t, await browser.get(url({ scope: 'openid' }))).get('code'), 'a subset: no page');
    const more = await browser.get(url({ scope: 'openid email' }));
    t.ok(isConsentPage(more), 'a scope not approved yet: asked again');
    t.match(more.body, /Your email address/);
    t.ok(redirected(t, await browser.submit(more, { decision: 'allow' })).get('code'));
    t.ok(await tessera.consents.covers(alice.user.id, thirdParty.id, SCOPES), 'the approvals add up');
    t.ok(redirected(t, await browser.get(url({}))).get('code'), 'every scope now: no page');

    t.ok(isConsentPage(await browser.get(url({ prompt: 'consent' }))), 'prompt=consent asks even so');
    const firstPartyAnswer = await browser.get(authorizationRequest(firstParty.id, REDIRECT, { prompt: 'consent' }).url);
    t.ok(redirected(t, firstPartyAnswer).get('code'), 'a first-party client never asks, even with prompt=consent');
  });

  t.test('denied: access_denied, nothing remembered', async (t) => {
    const bob = await registerUser(tessera, 'bob', 'bob password 1234');
    const browser = new PageBrowser(app);
    const consent = await browser.submit(await browser.get(url({})), { username: bob.username, password: bob.password });
    t.ok(isConsentPage(consent));
    const denied = redirected(t, await browser.submit(consent, { decision: 'deny' }));
    t.equal(denied.get('error'), 'access_denied');
    t.equal(denied.get('state'), 'st-1');
    t.equal(denied.get('iss'), ISSUER);
    t.notOk(denied.get('code'));
    t.notOk(await tessera.consents.covers(bob.user.id, thirdParty.id, []), 'no approval');

    const none = redirected(t, await browser.get(url({ prompt: 'none' })));
    t.equal(none.get('error'), 'consent_required', 'prompt=none with a session but no approval: consent_required');
    t.ok(isConsentPage(await browser.get(url({}))), 'without prompt=none: the consent page, no sign-in');
  });

  t.test('the consent form refuses a forged or foreign post', async (t) => {
    const carol = await registerUser(tessera, 'carol', 'carol password 1234');
    const browser = new PageBrowser(app);
    const consent = await browser.submit(await browser.get(url({ scope: 'openid' })), {
      username: carol.username,
      password: carol.password,
    });
    const fields = hiddenFields(consent.body);
    const post = (b: PageBrowser, form: Record<string, string>) => b.post('/authorize/consent', form);

    const forged = await post(browser, { ...fields, csrf: 'forged', decision: 'allow' });
    t.equal(forged.statusCode, 403, 'a wrong csrf value');
    t.notOk(forged.headers.location);
    const missing = await post(browser, { ...fields, csrf: '', decision: 'allow' });
    t.equal(missing.statusCode, 403, 'none');
    const widened = await post(browser, { ...fields, scope: 'openid email', decision: 'allow' });
    t.equal(widened.statusCode, 403, 'a request other than the one the page showed');
    const other = await signedIn(t, running);
    const foreign = await post(other, { ...fields, decision: 'allow' });
    t.equal(foreign.statusCode, 403, "another session's browser");
    const noSession = await post(new PageBrowser(app), { ...fields, decision: 'allow' });
    t.equal(noSession.statusCode, 401, 'no session: the sign-in page');
    t.ok(/name="password"/.test(noSession.body));
    const undecided = await post(browser, { ...fields });
    t.equal(undecided.statusCode, 400, 'no decision');
    t.notOk(await tessera.consents.covers(carol.user.id, thirdParty.id, []), 'nothing was approved');

    const malformed = await browser.post('/authorize/consent', { ...fields, scope: 'bad\u0000' });
    t.equal(malformed.statusCode, 400, 'a NUL byte: 400');
    t.ok(redirected(t, await browser.submit(consent, { decision: 'allow' })).get('code'), 'the real form still works');
  });

  t.test('after a fresh sign-in for max_age=0 or prompt=login, the consent page does not loop back', async (t) => {
    const dave = await registerUser(tessera, 'dave', 'dave password 1234');
    for (const extra of [{ max_age: '0' }, { prompt: 'login consent' }] as Record<string, string>[]) {
      const browser = new PageBrowser(app);
      const consent = await browser.submit(await browser.get(url(extra)), { username: dave.username, password: dave.password });
      t.ok(isConsentPage(consent), `${JSON.stringify(extra)}: consent after the sign-in`);
      t.ok(redirected(t, await browser.submit(consent, { decision: 'allow' })).get('code'), 'then the code');
    }
  });
});
