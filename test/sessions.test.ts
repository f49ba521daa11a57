// Single sign-on sessions: a sign-in on the /authorize page starts one (cookie tessera_session, a
// digest in the database), /authorize for any client answers from it without a page, and it ends
// when idle, at its absolute end, when its user is deactivated or changes password; a cookie that
// is forged, random, malformed or another server's is no session. Pruned once ended or expired.
import t, { type Test } from 'tap';
import { decodeJwt } from 'jose';
import { dialectFor } from '../src/store/dialects/index.ts';
import { LoadingCache } from '../src/store/read-cache.ts';
import { ISSUER, registerClient, registerUser, startTessera, tokenRequest, type Running } from './helpers/harness.ts';
import { authorizationRequest, PageBrowser, redirected, sha256 } from './helpers/page-flow.ts';

const ONE = 'https://one.example.com/cb';
const TWO = 'https://two.example.com/cb';

/** Two first-party public clients of the code flow, and a user. */
async function setUp(t: Test, env: Record<string, string> = {}) {
  const running = await startTessera(t, { env });
  const { tessera } = running;
  const alice = await registerUser(tessera);
  const one = await registerClient(tessera, { name: 'One', public: true, redirectUris: [ONE], scopes: ['openid', 'profile'] });
  const two = await registerClient(tessera, { name: 'Two', public: true, redirectUris: [TWO], scopes: ['openid'] });
  // A plain Prisma view of the same database, to move a session's clock.
  const view = await dialectFor(running.db.url).open(running.db.url, (error) => t.error(error));
  t.teardown(() => view.close());
  return { ...running, alice, one, two, view };
}

/** Signs in through the page for `clientId`; returns the redirect's parameters and the PKCE verifier. */
async function signIn(t: Test, browser: PageBrowser, user: { username: string; password: string }, clientId: string, redirectUri: string) {
  const request = authorizationRequest(clientId, redirectUri, { scope: 'openid' });
  const page = await browser.get(request.url);
  t.equal(page.statusCode, 200, 'the sign-in page');
  const answer = redirected(t, await browser.submit(page, { username: user.username, password: user.password }), 'signed in');
  return { params: answer, verifier: request.verifier };
}

/** Whether /authorize answers `browser` for client two from its session (a code) rather than with the sign-in page. */
async function answersFromSession(running: Running & { two: { id: string } }, browser: PageBrowser): Promise<boolean> {
  const res = await browser.get(authorizationRequest(running.two.id, TWO).url);
  if (res.statusCode === 200 && /name="password"/.test(res.body)) return false;
  if (res.statusCode === 302 && new URL(String(res.headers.location)).searchParams.has('code')) return true;
  throw new Error(`unexpected answer ${res.statusCode}: ${res.body.slice(0, 200)}`);
}

t.test('single sign-on across clients', async (t) => {
  const running = await setUp(t);
  const { app, tessera, alice, one, two } = running;
  const browser = new PageBrowser(app);

  const first = authorizationRequest(one.id, ONE, { scope: 'openid profile', nonce: 'nonce-1' });
  const page = await browser.get(first.url);
  t.equal(page.statusCode, 200);
  t.match(page.body, /name="password"/, 'no session yet: the sign-in page');
  t.notOk(browser.cookie('tessera_session'), 'no session cookie before signing in');
  const firstAnswer = redirected(t, await browser.submit(page, { username: alice.username, password: alice.password }));
  t.equal(firstAnswer.get('state'), 'st-1');
  t.equal(firstAnswer.get('iss'), ISSUER);

  const cookie = browser.setCookieLine('tessera_session')!;
  t.match(cookie, /^tessera_session=[A-Za-z0-9_-]{43}; Max-Age=36000; Path=\/; HttpOnly; SameSite=Lax$/, 'the session cookie');
  const value = browser.cookie('tessera_session')!;
  const session = await tessera.store.sessions.byDigest(sha256(value));
  t.ok(session, 'the database keeps the SHA-256 digest of the cookie');
  t.equal(session!.userId, alice.user.id);
  t.equal(session!.expiresAt.getTime() - session!.lastSeenAt.getTime(), 36_000_000, 'absolute end: TESSERA_SESSION_MAX after the sign-in');
  t.notOk(await tessera.store.sessions.byDigest(value), 'never the value itself');

  const code1 = (await tessera.tokens.findCode(firstAnswer.get('code')!))!;
  t.match(
    code1,
    { userId: alice.user.id, sessionId: session!.id, nonce: 'nonce-1', scope: 'openid profile' },
    'the code carries the sign-in',
  );
  t.equal(code1.authTime?.getTime(), session!.authTime.getTime());

  const second = authorizationRequest(two.id, TWO);
  const answer = await browser.get(second.url);
  const secondAnswer = redirected(t, answer, 'the second client gets its code without a page');
  t.equal(answer.body, '', 'no form');
  t.equal(secondAnswer.get('state'), 'st-1');
  t.equal(secondAnswer.get('iss'), ISSUER);
  const code2 = (await tessera.tokens.findCode(secondAnswer.get('code')!))!;
  t.match(code2, { userId: alice.user.id, sessionId: session!.id, nonce: null }, 'under the same session');
  t.equal(code2.authTime?.getTime(), session!.authTime.getTime(), 'the same sign-in time');

  const exchange = (client: { id: string }, code: string, verifier: string, redirectUri: string) =>
    tokenRequest(app, client, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri });
  const tokens1 = await exchange(one, firstAnswer.get('code')!, first.verifier, ONE);
  const tokens2 = await exchange(two, secondAnswer.get('code')!, second.verifier, TWO);
  t.equal(tokens1.statusCode, 200);
  t.equal(tokens2.statusCode, 200);
  const id1 = decodeJwt(tokens1.body_.id_token as string);
  const id2 = decodeJwt(tokens2.body_.id_token as string);
  t.equal(id1.sid, session!.id, 'the ID token names the session');
  t.equal(id2.sid, id1.sid, 'both clients see the same session');
  t.equal(id2.auth_time, id1.auth_time, 'and the same sign-in');
  t.equal(id1.nonce, 'nonce-1');

  t.notOk(await answersFromSession(running, new PageBrowser(app)), 'another browser has no session');
});

t.test('a sign-in replaces the cookie; the previous session lives on until it ends', async (t) => {
  const running = await setUp(t);
  const { app, tessera, alice, one } = running;
  const bob = await registerUser(tessera, 'bob', 'bob password 1234');
  const browser = new PageBrowser(app);
  await signIn(t, browser, alice, one.id, ONE);
  const alicesCookie = browser.cookie('tessera_session')!;

  // prompt=login: whoever signs in gets the new session.
  const page = await browser.get(authorizationRequest(one.id, ONE, { prompt: 'login' }).url);
  t.match(page.body, /name="password"/, 'prompt=login asks again');
  const answer = redirected(t, await browser.submit(page, { username: bob.username, password: bob.password }));
  t.equal((await tessera.tokens.findCode(answer.get('code')!))!.userId, bob.user.id, "the code is bob's");
  const bobsCookie = browser.cookie('tessera_session')!;
  t.not(bobsCookie, alicesCookie, 'a new cookie');
  t.equal((await tessera.sessions.find(bobsCookie))!.user.id, bob.user.id);
  t.equal((await tessera.sessions.find(alicesCookie))!.user.id, alice.user.id, "alice's session is not ended by it");
  t.ok(await answersFromSession(running, browser), 'the browser goes on with the new session');
});

t.test('the cookie is Secure on an https issuer', async (t) => {
  const { app, tessera, alice, one } = await setUp(t, { TESSERA_ISSUER: 'https://auth.example.com', TESSERA_SESSION_MAX: '7200' });
  const browser = new PageBrowser(app);
  await signIn(t, browser, alice, one.id, ONE);
  t.match(browser.setCookieLine('tessera_session'), /; Max-Age=7200; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  t.ok(tessera.sessions, 'served');
});

t.test('idle and absolute lifetimes', async (t) => {
  const running = await setUp(t, { TESSERA_SESSION_IDLE: '60', TESSERA_SESSION_MAX: '120' });
  const { app, tessera, alice, one, view } = running;
  const browser = new PageBrowser(app);
  const secondsAgo = (s: number) => new Date(Date.now() - s * 1000);
  const row = async () => (await tessera.store.sessions.byDigest(sha256(browser.cookie('tessera_session')!)))!;
  /** Moves the session's clock in the database, and has the server forget what it cached: as if that time had passed. */
  const age = async (id: string, data: { lastSeenAt?: Date; expiresAt?: Date }) => {
    await view.db.session.update({ where: { id }, data });
    tessera.sessions.forgetAll();
  };

  await signIn(t, browser, alice, one.id, ONE);
  let id = (await row()).id;
  await age(id, { lastSeenAt: secondsAgo(3) });
  t.ok(await answersFromSession(running, browser), 'used 3 s ago: live');
  t.ok(Date.now() - (await row()).lastSeenAt.getTime() >= 3000, 'a use within a tenth of the idle lifetime writes nothing');
  await age(id, { lastSeenAt: secondsAgo(50) });
  t.ok(await answersFromSession(running, browser), 'used 50 s ago: live');
  t.ok(Date.now() - (await row()).lastSeenAt.getTime() < 5000, 'the use is recorded: the idle lifetime starts again');
  await age(id, { lastSeenAt: secondsAgo(61) });
  t.notOk(await answersFromSession(running, browser), 'unused for longer than TESSERA_SESSION_IDLE: ended');
  const none = redirected(t, await browser.get(authorizationRequest(one.id, ONE, { prompt: 'none' }).url));
  t.equal(none.get('error'), 'login_required', 'prompt=none: login_required');

  await signIn(t, browser, alice, one.id, ONE);
  id = (await row()).id;
  await age(id, { expiresAt: secondsAgo(1) });
  t.notOk(await answersFromSession(running, browser), 'past its absolute end: ended, however recently used');
});

t.test('the sessions cache: an idle session is read once, then remembered as over; a use updates it in place', async (t) => {
  const running = await setUp(t, { TESSERA_SESSION_IDLE: '60' });
  const { app, tessera, alice, one, view } = running;
  const browser = new PageBrowser(app);
  let reads = 0;
  const byDigest = tessera.store.sessions.byDigest.bind(tessera.store.sessions);
  tessera.store.sessions.byDigest = (digest) => {
    reads++;
    return byDigest(digest);
  };
  const age = async (lastSeenAt: Date) => {
    await view.db.session.update({ where: { digest: sha256(browser.cookie('tessera_session')!) }, data: { lastSeenAt } });
    tessera.sessions.forgetAll();
    reads = 0;
  };

  await signIn(t, browser, alice, one.id, ONE);
  await age(new Date(Date.now() - 50_000));
  t.ok(await answersFromSession(running, browser), 'used 50 s ago: live, and the use recorded');
  t.ok(await answersFromSession(running, browser), 'again');
  t.equal(reads, 1, 'read once: the use updated the cached session rather than evicting it');

  await age(new Date(Date.now() - 61_000));
  for (let i = 0; i < 3; i++) t.notOk(await answersFromSession(running, browser), 'idle');
  t.equal(reads, 1, 'idle: read once, then remembered as over');
});

t.test('the cache evicts one key: loads of other keys in flight are kept', async (t) => {
  const loads: string[] = [];
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const cache = new LoadingCache<string | null>(10, 10, async (key) => {
    loads.push(key);
    await gate;
    return key.toUpperCase();
  });
  const a = cache.get('a');
  const b = cache.get('b');
  cache.evict('b');
  release();
  t.equal(await a, 'A');
  t.equal(await b, 'B', 'a load whose key was evicted still answers its caller');
  t.equal(cache.get('a'), 'A', "another key's eviction does not discard a load in flight");
  t.equal(await cache.get('b'), 'B');
  t.same(loads, ['a', 'b', 'b'], 'the evicted key is loaded again: its first answer may predate the change');
});

t.test("a user's deactivation, new password or revocation of everything ends their sessions", async (t) => {
  const running = await setUp(t);
  const { app, tessera, alice, one } = running;
  const browser = new PageBrowser(app);

  await signIn(t, browser, alice, one.id, ONE);
  t.ok(await answersFromSession(running, browser));
  await tessera.users.update(alice.username, { password: 'a whole new password' });
  t.notOk(await answersFromSession(running, browser), 'a new password ends the session');

  const user = { username: alice.username, password: 'a whole new password' };
  await signIn(t, browser, user, one.id, ONE);
  t.ok(await answersFromSession(running, browser), 'a sign-in with the new password starts a new one');
  await tessera.users.update(alice.username, { active: false });
  t.notOk(await answersFromSession(running, browser), 'deactivation ends it');
  await tessera.users.update(alice.username, { active: true });
  t.notOk(await answersFromSession(running, browser), 'and activating the user again does not revive it');

  await signIn(t, browser, user, one.id, ONE);
  t.ok(await answersFromSession(running, browser));
  await tessera.users.revokeEverything(alice.username);
  t.notOk(await answersFromSession(running, browser), 'revoking everything the user holds ends it too');
});

t.test('a forged, random, malformed or foreign cookie is no session', async (t) => {
  const running = await setUp(t);
  const { app, one } = running;
  // Another server, on a database of its own, with a session of the same user name.
  const other = await startTessera(t);
  const otherUser = await registerUser(other.tessera);
  const otherClient = await registerClient(other.tessera, { public: true, redirectUris: [ONE], scopes: ['openid'] });
  const elsewhere = new PageBrowser(other.app);
  await signIn(t, elsewhere, otherUser, otherClient.id, ONE);
  const foreign = elsewhere.cookie('tessera_session')!;
  t.ok(foreign, 'a live session on the other server');

  for (const [name, value] of [
    ['random', 'A'.repeat(43)],
    ['another server', foreign],
    ['malformed', 'not a cookie value; at all'],
    ['too long', 'x'.repeat(3000)],
    ['empty', ''],
    ['a digest', sha256(foreign)],
  ]) {
    const browser = new PageBrowser(app);
    browser.plant('tessera_session', encodeURIComponent(value!));
    const page = await browser.get(authorizationRequest(one.id, ONE).url);
    t.equal(page.statusCode, 200, `${name}: the sign-in page`);
    t.match(page.body, /name="password"/, `${name}: no session`);
    const none = await browser.get(authorizationRequest(one.id, ONE, { prompt: 'none' }).url);
    t.equal(redirected(t, none).get('error'), 'login_required', `${name}: prompt=none gives login_required`);
  }
});

t.test('sessions are pruned once ended or past their absolute end', async (t) => {
  const { app, tessera, alice, one } = await setUp(t);
  const ended = new PageBrowser(app);
  await signIn(t, ended, alice, one.id, ONE);
  const live = new PageBrowser(app);
  await signIn(t, live, alice, one.id, ONE);
  const endedSession = (await tessera.sessions.find(ended.cookie('tessera_session')))!;
  await tessera.sessions.end(endedSession.record);

  t.equal((await tessera.store.prune(new Date())).sessions, 1, 'the ended session goes at once');
  t.notOk(await tessera.store.sessions.byId(endedSession.record.id));
  t.ok(await tessera.sessions.find(live.cookie('tessera_session')), 'the live one stays');
  t.equal((await tessera.store.prune(new Date(Date.now() + 36_001_000))).sessions, 1, 'past its absolute end, it goes too');
});
