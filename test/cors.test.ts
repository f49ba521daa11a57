// CORS through a real app: preflights answered for the origins clients allow and for no other, the
// request itself readable only from an origin of the client it authenticates as, the public
// documents readable from anywhere, and the allowed origins following client changes.
import t, { type Test } from 'tap';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { basic, post, registerClient, registerUser, startTessera } from './helpers/harness.ts';

const SPA = 'https://spa.example.com';
const SVC = 'https://svc.example.com';
const OTHER = 'https://other.example.com';

/** The response's CORS headers, by name (without the prefix), and Vary. */
function cors(response: LightMyRequestResponse): Record<string, string> {
  return Object.fromEntries(
    Object.entries(response.headers)
      .filter(([name]) => name.startsWith('access-control-'))
      .map(([name, value]) => [name.slice('access-control-'.length), String(value)]),
  );
}

const preflight = (app: FastifyInstance, url: string, origin: string | undefined, method: string | null = 'POST') =>
  app.inject({
    method: 'OPTIONS',
    url,
    headers: {
      ...(origin === undefined ? {} : { origin }),
      ...(method === null ? {} : { 'access-control-request-method': method, 'access-control-request-headers': 'content-type' }),
    },
  });

/** Waits for what a change makes true (the change feed tells every instance within a second). */
async function eventually(t: Test, what: string, check: () => Promise<boolean>): Promise<void> {
  for (const started = Date.now(); Date.now() - started < 5000;) {
    if (await check()) return void t.pass(what);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.fail(what);
}

t.test('CORS', async (t) => {
  const { app, tessera } = await startTessera(t);
  const spa = await registerClient(tessera, { name: 'SPA', public: true, redirectUris: [`${SPA}/callback`], scopes: ['notes'] });
  const svc = await registerClient(tessera, { name: 'Service', introspect: true, origins: [SVC], scopes: ['notes'] });
  const other = await registerClient(tessera, { name: 'Other', origins: [OTHER], scopes: ['notes'] });
  const asSvc = { authorization: basic(svc.id, svc.secret!) };
  const credentials = async () =>
    (await post(app, '/token', { grant_type: 'client_credentials' }, { headers: asSvc })).body_.access_token as string;

  t.test('a preflight from an origin some client allows: 204 with the CORS headers', async (t) => {
    const endpoints: [string, string][] = [
      ['/token', 'POST'],
      ['/token/refresh', 'POST'],
      ['/token/logout', 'POST'],
      ['/token/verify', 'POST'],
      ['/introspect', 'POST'],
      ['/revoke', 'POST'],
      ['/userinfo', 'GET, POST'],
    ];
    for (const [url, methods] of endpoints) {
      for (const origin of [SPA, SVC]) {
        const response = await preflight(app, url, origin);
        t.equal(response.statusCode, 204, `${url} from ${origin}`);
        t.same(
          cors(response),
          {
            'allow-origin': origin,
            'allow-credentials': 'true',
            'allow-methods': methods,
            'allow-headers': 'Authorization, Content-Type, X-CSRF-Token',
            'max-age': '7200',
          },
          `${url} from ${origin}: the CORS headers`,
        );
        t.equal(response.headers.vary, 'Origin');
        t.equal(response.body, '');
      }
    }
  });

  t.test('a preflight from any other origin: 204 and no CORS headers', async (t) => {
    for (const [origin, method, what] of [
      ['https://evil.example', 'POST', 'an origin no client allows'],
      [`${SPA}:8443`, 'POST', 'another port of an allowed host'],
      ['http://spa.example.com', 'POST', 'another scheme'],
      ['null', 'POST', 'the opaque origin'],
      [SPA, null, 'an OPTIONS that is no preflight (no Access-Control-Request-Method)'],
      [undefined, 'POST', 'no Origin'],
    ] as const) {
      const response = await preflight(app, '/token', origin, method);
      t.equal(response.statusCode, 204, what);
      t.same(cors(response), {}, `${what}: no CORS headers`);
      t.equal(response.headers.vary, 'Origin', `${what}: Vary: Origin`);
    }
    t.equal((await preflight(app, '/nowhere', SPA)).statusCode, 404, 'a path that is no endpoint stays 404');
  });

  t.test('the request itself: CORS headers only for an origin of the client it authenticates as', async (t) => {
    const ownOrigin = await post(app, '/token', { grant_type: 'client_credentials' }, { headers: { ...asSvc, origin: SVC } });
    t.equal(ownOrigin.statusCode, 200);
    t.same(cors(ownOrigin), { 'allow-origin': SVC, 'allow-credentials': 'true' }, "the client's own origin");
    t.equal(ownOrigin.headers.vary, 'Origin');

    const foreign = await post(app, '/token', { grant_type: 'client_credentials' }, { headers: { ...asSvc, origin: OTHER } });
    t.equal(foreign.statusCode, 200, 'answered (CORS is for the browser to enforce)');
    t.same(cors(foreign), {}, "another client's origin reads nothing");
    t.equal(foreign.headers.vary, 'Origin');

    const none = await post(app, '/token', { grant_type: 'client_credentials' }, { headers: asSvc });
    t.same(cors(none), {}, 'no Origin (a service): no CORS headers');
    t.equal(none.headers.vary, undefined, 'and no Vary');

    const badSecret = await post(
      app,
      '/token',
      { grant_type: 'client_credentials' },
      { headers: { authorization: basic(svc.id, 'wrong'), origin: SVC } },
    );
    t.equal(badSecret.statusCode, 401);
    t.same(cors(badSecret), {}, 'a client that did not authenticate: none');

    const refused = await post(
      app,
      '/token',
      { grant_type: 'password', username: 'a', password: 'b' },
      { headers: { ...asSvc, origin: SVC } },
    );
    t.equal(refused.statusCode, 400);
    t.equal(refused.body_.error, 'unauthorized_client');
    t.same(
      cors(refused),
      { 'allow-origin': SVC, 'allow-credentials': 'true' },
      'an error for the authenticated client is readable by its page',
    );

    const token = await credentials();
    const introspect = await post(app, '/introspect', { token }, { headers: { ...asSvc, origin: SVC } });
    t.equal(introspect.body_.active, true);
    t.same(cors(introspect), { 'allow-origin': SVC, 'allow-credentials': 'true' }, '/introspect');
    const revokeForeign = await post(app, '/revoke', { token: 'tsa_unknown' }, { headers: { ...asSvc, origin: SPA } });
    t.same(cors(revokeForeign), {}, '/revoke from an origin of another client');
    const revoke = await post(app, '/revoke', { token: 'tsa_unknown' }, { headers: { ...asSvc, origin: SVC } });
    t.same(cors(revoke), { 'allow-origin': SVC, 'allow-credentials': 'true' }, '/revoke');

    const verify = await post(app, '/token/verify', { token }, { headers: { origin: SVC } });
    t.equal(verify.statusCode, 200);
    t.same(cors(verify), { 'allow-origin': SVC, 'allow-credentials': 'true' }, "/token/verify: for the origins of the token's client");
    t.same(cors(await post(app, '/token/verify', { token }, { headers: { origin: OTHER } })), {}, '/token/verify from elsewhere');
    const invalid = await post(app, '/token/verify', { token: 'tsa_nothing' }, { headers: { origin: SVC } });
    t.equal(invalid.statusCode, 401);
    t.same(cors(invalid), {}, '/token/verify of no token: no client, no CORS');

    const logout = await post(app, '/token/logout', { client_id: spa.id }, { headers: { origin: SPA } });
    t.equal(logout.statusCode, 400, 'not a browser client');
    t.same(cors(logout), { 'allow-origin': SPA, 'allow-credentials': 'true' }, '/token/logout');
  });

  t.test("/userinfo: for the origins of the access token's client", async (t) => {
    const { username, password } = await registerUser(tessera, 'ursula');
    const rp = await registerClient(tessera, { name: 'RP', grants: ['password'], scopes: ['openid', 'profile'], origins: [SPA] });
    const issued = await post(
      app,
      '/token',
      { grant_type: 'password', username, password, scope: 'openid profile' },
      {
        headers: { authorization: basic(rp.id, rp.secret!) },
      },
    );
    const bearer = { authorization: `Bearer ${issued.body_.access_token as string}` };
    const own = await app.inject({ method: 'GET', url: '/userinfo', headers: { ...bearer, origin: SPA } });
    t.equal(own.statusCode, 200);
    t.same(cors(own), { 'allow-origin': SPA, 'allow-credentials': 'true' });
    t.same(cors(await app.inject({ method: 'GET', url: '/userinfo', headers: { ...bearer, origin: SVC } })), {}, 'another origin');
  });

  t.test('metadata and JWKS: any origin, without credentials', async (t) => {
    for (const url of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/.well-known/jwks.json']) {
      for (const headers of [{ origin: 'https://anyone.example' }, {}]) {
        const response = await app.inject({ method: 'GET', url, headers });
        t.equal(response.statusCode, 200, url);
        t.same(cors(response), { 'allow-origin': '*' }, `${url}: * (${headers.origin ? 'with' : 'without'} Origin)`);
      }
      const response = await preflight(app, url, 'https://anyone.example', 'GET');
      t.equal(response.statusCode, 204);
      t.same(cors(response), { 'allow-origin': '*', 'allow-methods': 'GET', 'max-age': '7200' }, `${url}: the preflight`);
    }
  });

  t.test('the allowed origins follow the clients', async (t) => {
    const added = 'https://added.example.com';
    t.same(cors(await preflight(app, '/token', added)), {}, 'not yet allowed');
    await tessera.clients.update(other.id, { origins: [OTHER, added] });
    await eventually(t, 'an added origin is allowed', async () => cors(await preflight(app, '/token', added))['allow-origin'] === added);
    const asOther = { authorization: basic(other.id, other.secret!), origin: added };
    t.same(cors(await post(app, '/token', { grant_type: 'client_credentials' }, { headers: asOther })), {
      'allow-origin': added,
      'allow-credentials': 'true',
    });
    await tessera.clients.update(other.id, { origins: [OTHER] });
    await eventually(t, 'a removed origin is not', async () => cors(await preflight(app, '/token', added))['allow-origin'] === undefined);
    t.same(cors(await post(app, '/token', { grant_type: 'client_credentials' }, { headers: asOther })), {});

    const late = 'https://late.example.com';
    await registerClient(tessera, { name: 'Late', public: true, redirectUris: [`${late}/cb`] });
    await eventually(
      t,
      "a new client's redirect origin is allowed",
      async () => cors(await preflight(app, '/token', late))['allow-origin'] === late,
    );
    await tessera.clients.delete(other.id);
    await eventually(
      t,
      "a deleted client's origins are not",
      async () => cors(await preflight(app, '/token', OTHER))['allow-origin'] === undefined,
    );
  });
});
