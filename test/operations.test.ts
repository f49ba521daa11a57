// What operators see: request ids (kept, echoed, generated), the one log line per request with
// TESSERA_LOG_REQUESTS (who it concerned, never a secret or a query string), and the metrics for
// failed and throttled sign-ins and the version running.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../src/logger.ts';
import { basic, post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';

const REDIRECT = 'https://app.example.com/callback';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A logger at info whose JSON lines the test reads, with the production redaction. */
function capturedLog() {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', {
    write(line: string) {
      raw.push(line);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return { log, raw, lines };
}

/** onResponse runs once the answer has gone: give it its turn before reading the log. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

/** The value of a sample in Prometheus' text format, 0 when absent. */
async function sample(admin: FastifyInstance, series: string): Promise<number> {
  const text = (await admin.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

function cookiesOf(res: { headers: Record<string, unknown> }): Record<string, string> {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw as string] : [];
  return Object.fromEntries(list.map((c: string) => [c.split('=')[0]!, c.split(';')[0]!]));
}

/** The sign-in page's form, fetched and posted back as a browser would. */
async function signIn(app: FastifyInstance, clientId: string, username: string, password: string) {
  const { challenge } = pkcePair();
  const query = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  const page = await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams(query)}` });
  const hidden = Object.fromEntries(
    [...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]),
  );
  return app.inject({
    method: 'POST',
    url: '/authorize',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookiesOf(page).tessera_login_csrf ?? '' },
    payload: new URLSearchParams({ ...hidden, username, password }).toString(),
  });
}

t.test('request ids', async (t) => {
  const captured = capturedLog();
  const { app, admin, tessera } = await startTessera(t, { log: captured.log, env: { TESSERA_LOG_REQUESTS: 'true' } });
  const client = await registerClient(tessera);
  const get = (url: string, id?: string) => app.inject({ method: 'GET', url, headers: id === undefined ? {} : { 'x-request-id': id } });

  t.test('a sane incoming id is kept and echoed', async (t) => {
    for (const id of ['abc-123', 'trace=4bf92f3577b34da6;span 00f067aa', '~!@#$%^&*()_+{}|:"<>?`', 'a'.repeat(128)]) {
      const res = await get('/healthz', id);
      t.equal(res.headers['x-request-id'], id, `kept: ${id.slice(0, 40)}`);
    }
  });

  t.test('anything else is replaced by a fresh id', async (t) => {
    for (const [id, what] of [
      ['a'.repeat(129), 'too long'],
      ['caf\u00e9', 'not ASCII'],
      ['tab\there', 'a control character'],
    ] as const) {
      const res = await get('/healthz', id);
      t.match(res.headers['x-request-id'], UUID, `${what}: a UUID instead`);
    }
  });

  t.test('without one, each request gets its own', async (t) => {
    const [a, b] = [await get('/healthz'), await get('/healthz')];
    t.match(a.headers['x-request-id'], UUID);
    t.match(b.headers['x-request-id'], UUID);
    t.not(a.headers['x-request-id'], b.headers['x-request-id']);
    await settled();
    const logged = captured.lines.filter((l) => l.msg === 'request').map((l) => l.reqId);
    t.ok(logged.includes(a.headers['x-request-id']) && logged.includes(b.headers['x-request-id']), 'the generated id is the reqId logged');
  });

  t.test('on every answer: errors, 404s, the admin listener', async (t) => {
    const answers = {
      'unknown path (404)': await get('/no/such/path', 'id-404'),
      'malformed query (400)': await get('/healthz?%zz', 'id-400'),
      'bad client (401)': await post(
        app,
        '/token',
        { grant_type: 'client_credentials' },
        {
          headers: { authorization: basic(client.id, 'wrong'), 'x-request-id': 'id-401' },
        },
      ),
      'refused method (404)': await app.inject({ method: 'DELETE', url: '/token', headers: { 'x-request-id': 'id-delete' } }),
      'the sign-in page': await get('/authorize?client_id=nobody', 'id-page'),
      'admin /metrics': await admin.inject({ method: 'GET', url: '/metrics', headers: { 'x-request-id': 'id-admin' } }),
    };
    const ids = ['id-404', 'id-400', 'id-401', 'id-delete', 'id-page', 'id-admin'];
    for (const [i, [what, res]] of Object.entries(answers).entries()) t.equal(res.headers['x-request-id'], ids[i], what);
    t.equal(answers['bad client (401)'].statusCode, 401);
    t.equal(answers['malformed query (400)'].statusCode, 400);
  });
});

t.test('one log line per request, with who it concerned and nothing secret', async (t) => {
  const captured = capturedLog();
  const { app, admin, tessera } = await startTessera(t, { log: captured.log, env: { TESSERA_LOG_REQUESTS: 'on' } });
  const { user, username, password } = await registerUser(tessera);
  const client = await registerClient(tessera, { grants: ['password'] });
  const resourceServer = await registerClient(tessera, { introspect: true });
  const spa = await registerClient(tessera, { public: true, redirectUris: [REDIRECT] });
  const headers = (id: string, who = client) => ({ authorization: basic(who.id, who.secret!), 'x-request-id': id });

  const token = await post(app, '/token', { grant_type: 'password', username, password }, { headers: headers('r-token') });
  t.equal(token.statusCode, 200);
  const { access_token: accessToken, refresh_token: refreshToken } = token.body_ as Record<string, string>;
  const refreshed = await post(app, '/token/refresh', { refresh_token: refreshToken! }, { headers: headers('r-refresh') });
  t.equal(refreshed.statusCode, 200);
  const newRefresh = refreshed.body_.refresh_token as string;
  const introspected = await post(app, '/introspect', { token: accessToken! }, { headers: headers('r-introspect', resourceServer) });
  t.equal(introspected.body_.active, true);
  const verified = await post(
    app,
    '/token/verify',
    {},
    { headers: { authorization: `Bearer ${accessToken}`, 'x-request-id': 'r-verify' } },
  );
  t.equal(verified.statusCode, 200);
  const revoked = await post(app, '/revoke', { token: newRefresh }, { headers: headers('r-revoke') });
  t.equal(revoked.statusCode, 200);
  const wrong = await post(
    app,
    '/token',
    { grant_type: 'password', username, password: 'not the password' },
    { headers: headers('r-wrong') },
  );
  t.equal(wrong.statusCode, 400);
  const page = await app.inject({
    method: 'GET',
    url: `/authorize?response_type=code&client_id=${spa.id}&state=tsa_a_secret_in_the_query&code_challenge=${pkcePair().challenge}`,
    headers: { 'x-request-id': 'r-page' },
  });
  const missing = await app.inject({
    method: 'GET',
    url: '/no/such?access_token=tsa_another_secret',
    headers: { 'x-request-id': 'r-404' },
  });
  t.equal(missing.statusCode, 404);
  const scraped = await admin.inject({ method: 'GET', url: '/metrics', headers: { 'x-request-id': 'r-metrics' } });
  await settled();

  const lineOf = (id: string) => {
    const found = captured.lines.filter((l) => l.reqId === id && l.msg === 'request');
    t.equal(found.length, 1, `${id}: one line`);
    return found[0] ?? {};
  };
  t.match(lineOf('r-token'), { level: 30, method: 'POST', route: '/token', status: 200, ms: Number, client_id: client.id, sub: user.id });
  t.match(lineOf('r-refresh'), { route: '/token/refresh', status: 200, client_id: client.id, sub: user.id });
  t.match(lineOf('r-introspect'), { route: '/introspect', status: 200, client_id: resourceServer.id, sub: user.id });
  t.match(lineOf('r-verify'), { route: '/token/verify', status: 200, client_id: client.id, sub: user.id });
  const revokeLine = lineOf('r-revoke');
  t.match(revokeLine, { route: '/revoke', status: 200, client_id: client.id });
  t.notOk('sub' in revokeLine, 'no user named at /revoke');
  const wrongLine = lineOf('r-wrong');
  t.match(wrongLine, { route: '/token', status: 400, client_id: client.id });
  t.notOk('sub' in wrongLine, 'a failed sign-in names no user');
  t.match(lineOf('r-page'), { method: 'GET', route: '/authorize', status: page.statusCode });
  t.match(lineOf('r-404'), { method: 'GET', route: null, status: 404 });
  t.match(lineOf('r-metrics'), { method: 'GET', route: '/metrics', status: scraped.statusCode });
  for (const line of captured.lines.filter((l) => l.msg === 'request')) t.ok((line.ms as number) >= 0, `${String(line.reqId)}: time taken`);

  t.notOk(
    captured.lines.some((l) => l.msg === 'incoming request' || l.msg === 'request completed'),
    "Fastify's own request lines are off",
  );
  const everything = captured.raw.join('');
  for (const [what, secret] of Object.entries({
    'the access token': accessToken!,
    'the refresh token': refreshToken!,
    'the rotated refresh token': newRefresh,
    'the client secret': client.secret!,
    "the introspecting client's secret": resourceServer.secret!,
    'the password': password,
    'the wrong password': 'not the password',
    'a query value': 'tsa_a_secret_in_the_query',
    'a query value on a 404': 'tsa_another_secret',
  })) {
    t.notOk(everything.includes(secret), `not in the log: ${what}`);
  }
  t.notOk(/"(url|query|headers|body)"/.test(everything), 'no URL, query, headers or body fields');
});

t.test('requests are not logged unless TESSERA_LOG_REQUESTS is on', async (t) => {
  const captured = capturedLog();
  const { app, admin } = await startTessera(t, { log: captured.log });
  const res = await app.inject({ method: 'GET', url: '/healthz?x=1' });
  t.match(res.headers['x-request-id'], UUID, 'the id is echoed all the same');
  await admin.inject({ method: 'GET', url: '/metrics' });
  await app.inject({ method: 'GET', url: '/no/such/path' });
  await settled();
  t.same(
    captured.lines.filter(
      (l) => ['request', 'incoming request', 'request completed'].includes(l.msg as string) || /not found/.test(String(l.msg)),
    ),
    [],
    'no request lines',
  );
});

t.test('metrics: failed and throttled sign-ins, build info', async (t: Test) => {
  const { app, admin, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const client = await registerClient(tessera, { grants: ['password'] });
  const spa = await registerClient(tessera, { public: true, redirectUris: [REDIRECT] });
  const failures = (endpoint: string) => sample(admin, `tessera_sign_in_failures_total{endpoint="${endpoint}"}`);
  const throttled = (endpoint: string) => sample(admin, `tessera_throttled_total{endpoint="${endpoint}"}`);

  t.equal((await tokenRequest(app, client, { grant_type: 'password', username, password })).statusCode, 200);
  t.equal(await failures('/token'), 0, 'a sign-in that succeeds is no failure');
  t.equal((await tokenRequest(app, client, { grant_type: 'client_credentials' })).statusCode, 400, 'a grant the client lacks');
  t.equal((await tokenRequest(app, client, { grant_type: 'password', username })).statusCode, 400, 'no password at all');
  t.equal(await failures('/token'), 0, 'other failures are not sign-in failures');

  t.equal((await tokenRequest(app, client, { grant_type: 'password', username, password: 'wrong' })).statusCode, 400);
  t.equal(await failures('/token'), 1, 'a wrong password at the password grant');
  t.equal((await tokenRequest(app, client, { grant_type: 'password', username: 'nobody', password: 'wrong' })).statusCode, 400);
  t.equal(await failures('/token'), 2, 'an unknown username');
  t.equal((await signIn(app, spa.id, username, 'wrong')).statusCode, 401);
  t.equal(await failures('/authorize'), 1, 'a wrong password on the sign-in page');
  t.equal(await throttled('/token'), 0);

  // Ten failures for this address and username in the window; the next attempt is refused.
  let status = 400;
  let wrong = 0;
  while (status === 400 && wrong < 20) {
    status = (await tokenRequest(app, client, { grant_type: 'password', username, password: `wrong ${++wrong}` })).statusCode;
  }
  t.equal(status, 429, 'throttled');
  t.equal(await failures('/token'), 2 + wrong - 1, 'each wrong password counted once');
  t.equal(await throttled('/token'), 1, 'the 429 at /token');
  t.equal((await signIn(app, spa.id, username, password)).statusCode, 429);
  t.equal(await throttled('/authorize'), 1, 'the 429 on the sign-in page');
  t.equal(await failures('/authorize'), 1, 'a throttled attempt is not a failed password');

  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  t.equal(await sample(admin, `tessera_build_info{version="${version}",node="${process.version}"}`), 1, 'build info');
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'metrics only on the admin listener');
});
