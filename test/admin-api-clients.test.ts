// /admin/v1/clients through the admin API: paging, registration and its rules, changing every
// setting in place, what a narrowing ends, deletion, and secret rotation with and without grace.
// Real apps (inject), real database, on SQLite and PostgreSQL.
import t, { type Test } from 'tap';
import { exportJWK, generateKeyPair } from 'jose';
import { post, registerUser, tokenRequest } from './helpers/harness.ts';
import {
  ACTIVE,
  INACTIVE,
  clientToken,
  holdsStackTrace,
  isProblem,
  nextSecond,
  passwordGrant,
  refresh,
  sleep,
  startAdmin,
  tokenState,
  type AdminRunning,
  type Call,
} from './helpers/admin.ts';

type View = Record<string, unknown> & { client_id: string; client_secret?: string };

async function publicJwks(kid: string) {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { keys: [{ ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'ES256' }] };
}

async function create(t: Test, call: Call, body: Record<string, unknown>): Promise<View> {
  const response = await call('POST', '/clients', body);
  t.equal(response.status, 201, `created ${String(body.name)}`);
  return response.body as View;
}

/** Every client, read page by page. */
async function allClients(call: Call): Promise<View[]> {
  const items: View[] = [];
  let cursor: string | null = null;
  do {
    const response = await call('GET', `/clients?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...(response.body.items as View[]));
    cursor = response.body.next_cursor;
  } while (cursor);
  return items;
}

/** The id of the newest audit entry (0 when there is none). */
async function newestAudit(call: Call): Promise<number> {
  return (await call('GET', '/audit?limit=1')).body.items[0]?.id ?? 0;
}

async function secretWorks(s: AdminRunning, id: string, secret: string): Promise<boolean> {
  const response = await tokenRequest(s.app, { id, secret }, { grant_type: 'client_credentials' });
  if (response.statusCode !== 200 && response.statusCode !== 401) throw new Error(`unexpected ${response.statusCode} ${response.body}`);
  return response.statusCode === 200;
}

t.test('list: every client exactly once across pages; bad limits and cursors are 400', async (t) => {
  const { call } = await startAdmin(t);
  const made: string[] = [];
  for (let i = 0; i < 12; i++) made.push((await create(t, call, { name: `svc ${i}` })).client_id);
  const everyone = await allClients(call);
  t.equal(everyone.length, 14, 'the admin client, the introspecting client and the 12 made here');
  t.same(
    everyone.slice(2).map((c) => c.client_id),
    made,
    'in registration order',
  );

  const seen: string[] = [];
  let cursor: string | null = null;
  const sizes: number[] = [];
  do {
    const response = await call('GET', `/clients?limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.equal(response.status, 200);
    sizes.push(response.body.items.length);
    seen.push(...response.body.items.map((c: View) => c.client_id));
    t.notOk(
      response.body.items.some((c: View) => 'client_secret' in c),
      'a list never shows a secret',
    );
    cursor = response.body.next_cursor;
    if (cursor !== null) t.type(cursor, 'string');
  } while (cursor !== null && sizes.length < 10);
  t.same(sizes, [5, 5, 4], 'three pages of 5, 5 and 4');
  t.same(
    seen,
    everyone.map((c) => c.client_id),
    'every client once, in order',
  );
  t.equal(new Set(seen).size, 14, 'no client twice');

  const exactly = await call('GET', '/clients?limit=14');
  t.equal(exactly.body.items.length, 14);
  t.equal(exactly.body.next_cursor, null, 'a page that holds the rest has no next cursor');
  t.equal((await call('GET', '/clients')).body.items.length, 14, 'the default page holds them all');
  t.equal((await call('GET', '/clients?limit=500')).status, 200, 'limit 500 is allowed');

  for (const query of ['limit=0', 'limit=501', 'limit=abc', 'limit=-1', 'limit=1.5', 'limit=', 'cursor=', 'sort=name']) {
    isProblem(t, await call('GET', `/clients?${query}`), 400, `?${query}`);
  }
  const first = (await call('GET', '/clients?limit=2')).body.next_cursor as string;
  const forged = [
    'not-a-cursor',
    `${first}x`,
    Buffer.from('yesterday.some-id').toString('base64url'),
    Buffer.from(`${Date.now()}.`).toString('base64url'),
    Buffer.from('12345').toString('base64url'),
    'x'.repeat(600),
  ];
  for (const cursor of forged)
    isProblem(t, await call('GET', `/clients?cursor=${encodeURIComponent(cursor)}`), 400, `forged cursor ${cursor.slice(0, 20)}`);
  t.equal(
    (await call('GET', `/clients?limit=2&cursor=${first}`)).body.items[0].client_id,
    everyone[2]!.client_id,
    'the real cursor still works',
  );
});

t.test('create: the answer holds the secret once; every registration rule is a 400 that creates nothing', async (t) => {
  const s = await startAdmin(t);
  const { call } = s;
  const created = await create(t, call, { name: 'billing service', scopes: ['invoices:read'] });
  t.match(created, {
    name: 'billing service',
    type: 'confidential',
    token_endpoint_auth_method: 'client_secret_basic',
    grants: ['client_credentials'],
    scopes: ['invoices:read'],
    token_format: 'opaque',
    access_ttl: 300,
    refresh_ttl: 86_400,
    max_session: 2_592_000,
    audience: null,
    post_logout_redirect_uris: [],
    introspect: false,
    consent: false,
    browser: false,
    admin: false,
    previous_secret_expires_at: null,
    tokens_valid_after: null,
  });
  t.type(created.client_secret, 'string');
  t.ok(created.client_secret!.length >= 43, 'the secret has at least 256 bits');
  t.ok(await secretWorks(s, created.client_id, created.client_secret!), 'the secret works at /token');
  const got = await call('GET', `/clients/${created.client_id}`);
  t.equal(got.status, 200);
  t.notOk('client_secret' in got.body, 'GET never shows the secret again');
  t.notOk(got.text.includes(created.client_secret!), 'nor any trace of it');
  t.equal(got.body.name, 'billing service');

  const spa = await create(t, call, { name: 'spa', public: true, redirect_uris: ['https://app.example/cb'], browser: true });
  t.match(spa, { type: 'public', token_endpoint_auth_method: 'none', grants: ['authorization_code', 'refresh_token'], browser: true });
  t.notOk('client_secret' in spa, 'a public client gets no secret');
  const loopback = await create(t, call, { name: 'cli', public: true, redirect_uris: ['http://127.0.0.1:8765/cb'] });
  t.same(loopback.redirect_uris, ['http://127.0.0.1:8765/cb'], 'http on a loopback host is allowed');
  const thirdParty = await create(t, call, {
    name: 'partner app',
    public: true,
    redirect_uris: ['https://partner.example/cb'],
    post_logout_redirect_uris: ['https://partner.example/signed-out', 'http://[::1]:8080/bye'],
    consent: true,
  });
  t.match(thirdParty, { consent: true, post_logout_redirect_uris: ['https://partner.example/signed-out', 'http://[::1]:8080/bye'] });
  t.match((await call('GET', `/clients/${thirdParty.client_id}`)).body, {
    consent: true,
    post_logout_redirect_uris: thirdParty.post_logout_redirect_uris,
  });
  t.match(
    (await allClients(call)).find((c) => c.client_id === thirdParty.client_id),
    { consent: true, post_logout_redirect_uris: thirdParty.post_logout_redirect_uris },
    'the list shows both',
  );
  const keyed = await create(t, call, { name: 'keyed', jwks: await publicJwks('k1') });
  t.equal(keyed.token_endpoint_auth_method, 'private_key_jwt');
  t.notOk('client_secret' in keyed, 'a client with keys gets no secret');

  const before = (await allClients(call)).length;
  const audited = await newestAudit(call);
  const jwks = await publicJwks('k2');
  const refused: [string, unknown, RegExp?][] = [
    [
      'public + client_credentials',
      { name: 'x', public: true, grants: ['client_credentials'] },
      /public client cannot use client_credentials/,
    ],
    ['authorization_code without a redirect URI', { name: 'x', grants: ['authorization_code'] }, /redirect/],
    ['a public client without a redirect URI', { name: 'x', public: true }, /redirect/],
    [
      'http redirect on a non-loopback host',
      { name: 'x', grants: ['authorization_code'], redirect_uris: ['http://app.example/cb'] },
      /https/,
    ],
    [
      'a redirect URI with a fragment',
      { name: 'x', grants: ['authorization_code'], redirect_uris: ['https://app.example/cb#x'] },
      /fragment/,
    ],
    ['a relative redirect URI', { name: 'x', grants: ['authorization_code'], redirect_uris: ['/cb'] }, /absolute/],
    [
      'an http post-logout redirect URI on a non-loopback host',
      { name: 'x', post_logout_redirect_uris: ['http://app.example/bye'] },
      /post-logout redirect URI must use https \(or http on loopback\)/,
    ],
    [
      'a post-logout redirect URI with a fragment',
      { name: 'x', post_logout_redirect_uris: ['https://app.example/bye#x'] },
      /post-logout redirect URI must not have a fragment/,
    ],
    [
      'a relative post-logout redirect URI',
      { name: 'x', post_logout_redirect_uris: ['/bye'] },
      /post-logout redirect URI is not an absolute URI/,
    ],
    ['a custom-scheme post-logout redirect URI', { name: 'x', post_logout_redirect_uris: ['com.example.app:/bye'] }, /post-logout.*https/],
    [
      'post-logout redirect URIs as a string',
      { name: 'x', post_logout_redirect_uris: 'https://app.example/bye' },
      /post_logout_redirect_uris/,
    ],
    [
      '21 post-logout redirect URIs',
      { name: 'x', post_logout_redirect_uris: Array.from({ length: 21 }, (_, i) => `https://a.example/${i}`) },
    ],
    ['consent as a string', { name: 'x', consent: 'true' }, /consent/],
    ['a bad scope', { name: 'x', scopes: ['bad"scope'] }, /invalid scope/],
    ['a scope with a space', { name: 'x', scopes: ['a b'] }, /invalid scope/],
    ['an unknown grant', { name: 'x', grants: ['implicit'] }, /unknown grant "implicit"/],
    ['an unknown field', { name: 'x', colour: 'blue' }],
    ['a misspelt field', { name: 'x', scope: ['read'] }],
    ['a name that is a number', { name: 42 }],
    ['scopes as a string', { name: 'x', scopes: 'read write' }],
    ['a boolean as a string', { name: 'x', introspect: 'true' }],
    ['a ttl as a string', { name: 'x', access_ttl: '300' }],
    ['a fractional ttl', { name: 'x', access_ttl: 1.5 }],
    ['a zero ttl', { name: 'x', refresh_ttl: 0 }],
    ['a ttl over a year and a day', { name: 'x', max_session: 366 * 86_400 + 1 }],
    ['an unknown token format', { name: 'x', token_format: 'saml' }],
    ['an over-long name', { name: 'n'.repeat(201) }],
    ['a blank name', { name: '   ' }, /name/],
    ['an empty name', { name: '' }],
    ['no name', { scopes: ['read'] }],
    ['an audience with a space', { name: 'x', audience: 'a b' }, /audience/],
    ['an origin with a path', { name: 'x', origins: ['https://app.example/path'] }, /origin/],
    ['a plain-http origin', { name: 'x', origins: ['http://app.example'] }, /https/],
    ['both jwks and jwks_uri', { name: 'x', jwks, jwks_uri: 'https://keys.example/jwks.json' }, /not both/],
    ['a public client with keys', { name: 'x', public: true, redirect_uris: ['https://a.example/cb'], jwks }, /public client has no keys/],
    ['a private key in jwks', { name: 'x', jwks: { keys: [{ ...jwks.keys[0], d: 'AAAA' }] } }, /private key material/],
    ['an http jwks_uri', { name: 'x', jwks_uri: 'http://keys.example/jwks.json' }, /https/],
    ['a public admin client', { name: 'x', admin: true, public: true, redirect_uris: ['https://a.example/cb'] }, /confidential/],
    ['an admin client without client_credentials', { name: 'x', admin: true, grants: ['password'] }, /client_credentials/],
    ['a public client that introspects', { name: 'x', public: true, grants: ['password'], introspect: true }, /introspect/],
    [
      '101 redirect URIs',
      { name: 'x', grants: ['authorization_code'], redirect_uris: Array.from({ length: 101 }, (_, i) => `https://a.example/${i}`) },
    ],
    ['an array body', [{ name: 'x' }]],
  ];
  for (const [what, body, detail] of refused) isProblem(t, await call('POST', '/clients', body), 400, what, detail);
  t.equal((await allClients(call)).length, before, 'no refused registration created a client');
  t.equal(await newestAudit(call), audited, 'and none wrote to the audit log');

  isProblem(t, await call('GET', '/clients/no-such-client'), 404, 'an unknown client', /no client/);
  isProblem(t, await call('PATCH', '/clients/no-such-client', { name: 'x' }), 404, 'PATCH of an unknown client');
  isProblem(t, await call('DELETE', '/clients/no-such-client'), 404, 'DELETE of an unknown client');
  isProblem(t, await call('POST', '/clients/no-such-client/secret', {}), 404, 'rotating the secret of an unknown client');
});

t.test('PATCH changes every setting in place and keeps the client_id', async (t) => {
  const s = await startAdmin(t);
  const { call, app } = s;
  const original = await create(t, call, { name: 'orders', scopes: ['read'] });
  const id = original.client_id;
  let secret = original.client_secret!;
  const patch = async (body: Record<string, unknown>, expect: Record<string, unknown>, what: string): Promise<View> => {
    const response = await call('PATCH', `/clients/${id}`, body);
    t.equal(response.status, 200, `${what}: 200`);
    t.equal(response.body.client_id, id, `${what}: same client_id`);
    t.match(response.body, expect, `${what}: the answer shows it`);
    const got = await call('GET', `/clients/${id}`);
    t.match(got.body, expect, `${what}: GET shows it`);
    t.equal(got.body.created_at, original.created_at, `${what}: created_at unchanged`);
    return response.body;
  };

  await patch({ name: 'orders v2' }, { name: 'orders v2' }, 'name');
  await patch({ scopes: ['read', 'write'] }, { scopes: ['read', 'write'] }, 'scopes');
  await patch(
    { grants: ['client_credentials', 'authorization_code'], redirect_uris: ['https://orders.example/cb'] },
    { grants: ['client_credentials', 'authorization_code', 'refresh_token'], redirect_uris: ['https://orders.example/cb'] },
    'grants (with the redirect URI the code flow needs)',
  );
  await patch({ token_format: 'jwt' }, { token_format: 'jwt' }, 'token_format');
  const jwtToken = await clientToken(app, { id, secret });
  t.equal(jwtToken.split('.').length, 3, 'the client now gets JWTs');
  await patch(
    { access_ttl: 600, refresh_ttl: 7200, max_session: 86_400 },
    { access_ttl: 600, refresh_ttl: 7200, max_session: 86_400 },
    'ttls',
  );
  await patch({ audience: 'https://orders-api.example' }, { audience: 'https://orders-api.example' }, 'audience');
  const verified = await post(app, '/token/verify', { token: await clientToken(app, { id, secret }) });
  t.equal(verified.body_.aud, 'https://orders-api.example', 'new tokens carry the audience');
  await patch({ audience: null }, { audience: null }, 'audience cleared');
  await patch(
    { redirect_uris: ['https://orders.example/cb', 'http://localhost:9000/cb'] },
    { redirect_uris: ['https://orders.example/cb', 'http://localhost:9000/cb'] },
    'redirect_uris',
  );
  await patch({ origins: ['https://orders-ui.example'] }, { origins: ['https://orders-ui.example'] }, 'origins');
  await patch(
    { post_logout_redirect_uris: ['https://orders.example/bye', 'http://localhost:9000/bye'] },
    { post_logout_redirect_uris: ['https://orders.example/bye', 'http://localhost:9000/bye'] },
    'post_logout_redirect_uris',
  );
  await patch(
    { consent: true },
    { consent: true, post_logout_redirect_uris: ['https://orders.example/bye', 'http://localhost:9000/bye'] },
    'consent',
  );
  await patch({ introspect: true }, { introspect: true }, 'introspect');
  await patch({ browser: true }, { browser: true }, 'browser');
  await patch({ admin: true }, { admin: true, scopes: ['read', 'write', 'tessera:admin'] }, 'admin');
  t.equal(
    (await call('GET', '/keys', undefined, { token: await clientToken(app, { id, secret }) })).status,
    200,
    'it opens the admin API now',
  );
  await patch({ admin: false }, { admin: false, scopes: ['read', 'write'] }, 'admin off');
  t.ok(await secretWorks(s, id, secret), 'the secret is still the same');

  const jwks = await publicJwks('orders-key');
  const withKeys = await patch({ jwks }, { token_endpoint_auth_method: 'private_key_jwt', jwks, jwks_uri: null }, 'jwks');
  t.notOk('client_secret' in withKeys, 'no secret for a client with keys');
  t.notOk(await secretWorks(s, id, secret), 'the secret stopped working');
  await patch(
    { jwks_uri: 'https://orders.example/jwks.json' },
    { token_endpoint_auth_method: 'private_key_jwt', jwks: null, jwks_uri: 'https://orders.example/jwks.json' },
    'jwks_uri replaces jwks',
  );
  const backToSecret = await patch(
    { jwks_uri: null },
    { token_endpoint_auth_method: 'client_secret_basic', jwks: null, jwks_uri: null },
    'keys cleared',
  );
  t.type(backToSecret.client_secret, 'string', 'a client that needs a secret again gets a new one, once');
  t.not(backToSecret.client_secret, secret);
  secret = backToSecret.client_secret!;
  t.ok(await secretWorks(s, id, secret), 'the new secret works');
  t.notOk('client_secret' in (await call('GET', `/clients/${id}`)).body, 'and is not shown again');

  const madePublic = await patch(
    { public: true, grants: ['authorization_code'], introspect: false },
    { type: 'public', token_endpoint_auth_method: 'none', grants: ['authorization_code', 'refresh_token'] },
    'public',
  );
  t.notOk('client_secret' in madePublic);
  t.notOk(await secretWorks(s, id, secret), 'a public client has no secret');
  const confidential = await patch(
    { public: false },
    { type: 'confidential', token_endpoint_auth_method: 'client_secret_basic' },
    'confidential again',
  );
  t.type(confidential.client_secret, 'string', 'it gets a new secret');
  const fresh = await tokenRequest(
    app,
    { id, secret: confidential.client_secret! },
    { grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://orders.example/cb', code_verifier: 'x'.repeat(43) },
  );
  t.not(fresh.statusCode, 401, 'the new secret authenticates');

  const final = (await call('GET', `/clients/${id}`)).body;
  t.match(final, {
    client_id: id,
    name: 'orders v2',
    scopes: ['read', 'write'],
    token_format: 'jwt',
    access_ttl: 600,
    refresh_ttl: 7200,
    max_session: 86_400,
    origins: ['https://orders-ui.example'],
    post_logout_redirect_uris: ['https://orders.example/bye', 'http://localhost:9000/bye'],
    consent: true,
    browser: true,
    admin: false,
  });
  // Cleared: an empty list, and first-party again.
  await patch({ post_logout_redirect_uris: [], consent: false }, { post_logout_redirect_uris: [], consent: false }, 'both cleared');
  isProblem(
    t,
    await call('PATCH', `/clients/${id}`, { post_logout_redirect_uris: ['https://orders.example/bye', 'http://orders.example/bye'] }),
    400,
    'a PATCH with one bad post-logout redirect URI',
    /post-logout redirect URI must use https/,
  );
  t.same((await call('GET', `/clients/${id}`)).body.post_logout_redirect_uris, [], 'is refused whole');
  t.equal((await allClients(call)).filter((c) => c.name === 'orders v2').length, 1, 'still one client');
});

t.test('a PATCH that would leave the client invalid is refused whole', async (t) => {
  const s = await startAdmin(t);
  const { call } = s;
  const browserClient = await create(t, call, {
    name: 'browser app',
    public: true,
    browser: true,
    redirect_uris: ['https://app.example/cb'],
    origins: ['https://app.example'],
  });
  const service = await create(t, call, { name: 'service', scopes: ['read'], introspect: true });
  const keyed = await create(t, call, { name: 'keyed', jwks: await publicJwks('k') });
  const snapshot = async (id: string) => (await call('GET', `/clients/${id}`)).body;
  const beforeBrowser = await snapshot(browserClient.client_id);
  const beforeService = await snapshot(service.client_id);
  const beforeKeyed = await snapshot(keyed.client_id);
  const audited = await newestAudit(call);
  const refused: [string, string, unknown, RegExp?][] = [
    ['dropping the redirect URIs of a code-flow client', browserClient.client_id, { redirect_uris: [] }, /redirect/],
    ['a rename together with an invalid change', browserClient.client_id, { name: 'renamed', redirect_uris: [] }, /redirect/],
    [
      'client_credentials for a public client',
      browserClient.client_id,
      { grants: ['authorization_code', 'client_credentials'] },
      /public client/,
    ],
    ['an http redirect URI', browserClient.client_id, { redirect_uris: ['http://app.example/cb'] }, /https/],
    ['admin for a public client', browserClient.client_id, { admin: true }, /confidential/],
    ['making a client_credentials client public', service.client_id, { public: true }, /public client/],
    ['public with client_credentials and a new name', service.client_id, { public: true, name: 'renamed' }, /public client/],
    ['an unknown grant', service.client_id, { grants: ['client_credentials', 'device_code'] }, /unknown grant/],
    ['a bad scope', service.client_id, { scopes: ['read', 'no"quotes'] }, /invalid scope/],
    ['tessera:admin by hand', service.client_id, { scopes: ['tessera:admin'] }, /tessera:admin/],
    ['an empty change', service.client_id, {}],
    ['an unknown field', service.client_id, { name: 'x', secret: 'mine' }],
    ['a wrong type', service.client_id, { introspect: 1 }],
    ['an over-long name', service.client_id, { name: 'n'.repeat(201) }],
    ['a blank name', service.client_id, { name: ' ' }, /name/],
    ['both jwks and jwks_uri', keyed.client_id, { jwks: beforeKeyed.jwks, jwks_uri: 'https://keys.example/jwks.json' }, /not both/],
    ['keys for a public client', browserClient.client_id, { jwks: beforeKeyed.jwks }, /public client has no keys/],
    ['an invalid jwks', keyed.client_id, { jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, /symmetric/],
  ];
  for (const [what, id, body, detail] of refused) isProblem(t, await call('PATCH', `/clients/${id}`, body), 400, what, detail);
  t.same(await snapshot(browserClient.client_id), beforeBrowser, 'the browser client is unchanged');
  t.same(await snapshot(service.client_id), beforeService, 'the service is unchanged');
  t.same(await snapshot(keyed.client_id), beforeKeyed, 'the keyed client is unchanged');
  t.ok(await secretWorks(s, service.client_id, service.client_secret!), "the service's secret still works");
  t.equal(await newestAudit(call), audited, 'no refused change wrote to the audit log');
});

t.test('narrowing scopes or grants ends the client’s tokens; widening does not', async (t) => {
  const s = await startAdmin(t);
  const { app, call, tessera, introspector } = s;
  const { username, password } = await registerUser(tessera, 'nora', 'nora password 12');
  // An opaque client (narrowed by its scopes) and a JWT client (narrowed by its grants).
  const opaque = await create(t, call, { name: 'opaque', scopes: ['read', 'write'], grants: ['client_credentials', 'password'] });
  const jwt = await create(t, call, {
    name: 'jwt',
    token_format: 'jwt',
    scopes: ['read'],
    grants: ['client_credentials', 'password', 'authorization_code'],
    redirect_uris: ['https://jwt.example/cb'],
  });
  const O = { id: opaque.client_id, secret: opaque.client_secret! };
  const J = { id: jwt.client_id, secret: jwt.client_secret! };
  const state = (token: string) => tokenState(app, introspector, token);

  const oService = await clientToken(app, O);
  let oUser = await passwordGrant(app, O, username, password);
  const jService = await clientToken(app, J);
  let jUser = await passwordGrant(app, J, username, password);
  t.match(oService, /^tsa_/, 'opaque access token');
  t.equal(jService.split('.').length, 3, 'JWT access token');
  for (const token of [oService, oUser.access_token, jService, jUser.access_token]) t.same(await state(token), ACTIVE, 'active at first');

  // Widening, and changes that narrow nothing, end nothing.
  t.equal((await call('PATCH', `/clients/${O.id}`, { scopes: ['read', 'write', 'extra'], name: 'opaque, wider' })).status, 200);
  t.equal(
    (
      await call('PATCH', `/clients/${J.id}`, {
        grants: ['client_credentials', 'password', 'authorization_code', 'refresh_token'],
        scopes: ['read', 'more'],
      })
    ).status,
    200,
  );
  t.equal((await call('PATCH', `/clients/${J.id}`, { access_ttl: 900, origins: ['https://jwt.example'] })).status, 200);
  t.equal((await call('GET', `/clients/${O.id}`)).body.tokens_valid_after, null, 'no tokens_valid_after after widening');
  for (const token of [oService, oUser.access_token, jService, jUser.access_token])
    t.same(await state(token), ACTIVE, 'still active after widening');
  const oRefreshed = await refresh(app, O, oUser.refresh_token);
  t.equal(oRefreshed.status, 200, 'the refresh token still works after widening');
  oUser = oRefreshed.body as typeof oUser;
  const jRefreshed = await refresh(app, J, jUser.refresh_token);
  t.equal(jRefreshed.status, 200);
  jUser = jRefreshed.body as typeof jUser;

  // Narrowing the opaque client's scopes ends its tokens, and only its.
  const narrowed = await call('PATCH', `/clients/${O.id}`, { scopes: ['read'] });
  t.equal(narrowed.status, 200);
  t.same(narrowed.body.scopes, ['read']);
  t.type(narrowed.body.tokens_valid_after, 'string', 'tokens_valid_after is shown');
  t.same(await state(oService), INACTIVE, 'its client_credentials token is inactive');
  t.same(await state(oUser.access_token), INACTIVE, "its user's access token is inactive");
  t.same((await refresh(app, O, oUser.refresh_token)).error, 'invalid_grant', "its user's refresh token: invalid_grant");
  t.same(await state(jService), ACTIVE, "the other client's tokens go on");
  t.same(await state(jUser.access_token), ACTIVE);

  // Narrowing the JWT client's grants ends its JWTs too (they are not in the database).
  t.equal((await call('PATCH', `/clients/${J.id}`, { grants: ['client_credentials', 'password'] })).status, 200);
  t.same((await call('GET', `/clients/${J.id}`)).body.grants, ['client_credentials', 'password', 'refresh_token']);
  t.same(await state(jService), INACTIVE, 'its JWT client_credentials token is inactive');
  t.same(await state(jUser.access_token), INACTIVE, "its user's JWT is inactive");
  t.same((await refresh(app, J, jUser.refresh_token)).error, 'invalid_grant', "its user's refresh token: invalid_grant");

  // Tokens issued afterwards work (from the next whole second: iat has whole seconds).
  await nextSecond();
  const oAfter = await clientToken(app, O);
  const jAfter = await passwordGrant(app, J, username, password);
  t.same(await state(oAfter), ACTIVE, 'a token issued after the narrowing is active');
  t.same(await state(jAfter.access_token), ACTIVE, 'a JWT issued after the narrowing is active');
  t.equal((await refresh(app, J, jAfter.refresh_token)).status, 200, 'and its refresh token works');
  t.same(
    (await tokenRequest(app, O, { grant_type: 'client_credentials', scope: 'write' })).body_.error,
    'invalid_scope',
    'the dropped scope is refused',
  );
});

t.test('delete: 204, its tokens end, then 404', async (t) => {
  const s = await startAdmin(t);
  const { app, call, tessera, introspector } = s;
  const { username, password } = await registerUser(tessera, 'dora', 'dora password 12');
  const opaque = await create(t, call, { name: 'gone', grants: ['client_credentials', 'password'] });
  const jwt = await create(t, call, { name: 'gone too', token_format: 'jwt' });
  const O = { id: opaque.client_id, secret: opaque.client_secret! };
  const J = { id: jwt.client_id, secret: jwt.client_secret! };
  const tokens = [await clientToken(app, O), (await passwordGrant(app, O, username, password)).access_token, await clientToken(app, J)];
  for (const token of tokens) t.same(await tokenState(app, introspector, token), ACTIVE);
  const userRefresh = (await passwordGrant(app, O, username, password)).refresh_token;
  const deleted = await call('DELETE', `/clients/${O.id}`);
  t.equal(deleted.status, 204);
  t.equal(deleted.text, '', 'no body');
  t.equal((await call('DELETE', `/clients/${J.id}`)).status, 204);
  for (const token of tokens) t.same(await tokenState(app, introspector, token), INACTIVE, 'its tokens are inactive');
  const refreshed = await refresh(app, O, userRefresh);
  t.equal(refreshed.status, 401, 'a deleted client cannot refresh');
  t.equal(refreshed.error, 'invalid_client');
  t.notOk(await secretWorks(s, O.id, O.secret), 'its secret is refused');
  isProblem(t, await call('GET', `/clients/${O.id}`), 404, 'GET after delete');
  isProblem(t, await call('DELETE', `/clients/${O.id}`), 404, 'DELETE again');
  t.notOk(
    (await call('GET', '/clients')).body.items.some((c: View) => c.client_id === O.id || c.client_id === J.id),
    'gone from the list',
  );
});

t.test('secret rotation', async (t) => {
  const s = await startAdmin(t);
  const { call, adminClient } = s;
  const client = await create(t, call, { name: 'rotating' });
  const id = client.client_id;
  const secrets = [client.client_secret!];
  const rotate = async (body: unknown, what: string) => {
    const response = await call('POST', `/clients/${id}/secret`, body);
    t.equal(response.status, 200, `${what}: 200`);
    t.equal(response.body.client_id, id);
    t.type(response.body.client_secret, 'string');
    t.notOk(secrets.includes(response.body.client_secret), `${what}: a new secret`);
    secrets.push(response.body.client_secret);
    return response.body as { client_secret: string; previous_secret_expires_at: string | null };
  };
  const works = (i: number) => secretWorks(s, id, secrets[i]!);

  const plain = await rotate({}, 'without grace');
  t.equal(plain.previous_secret_expires_at, null);
  t.notOk(await works(0), 'the old secret is refused at once');
  t.ok(await works(1), 'the new one works');

  const started = Date.now();
  const graced = await rotate({ grace_seconds: 3600 }, 'with grace');
  const until = Date.parse(graced.previous_secret_expires_at!);
  t.ok(
    Math.abs(until - (started + 3600_000)) < 10_000,
    `previous_secret_expires_at is an hour ahead (${graced.previous_secret_expires_at})`,
  );
  t.ok(await works(1), 'the old secret works during the grace');
  t.ok(await works(2), 'and so does the new one');
  t.equal((await call('GET', `/clients/${id}`)).body.previous_secret_expires_at, graced.previous_secret_expires_at, 'GET shows the grace');

  await rotate({ grace_seconds: 3600 }, 'a second rotation');
  t.notOk(await works(1), "the second rotation ends the first grace's secret");
  t.ok(await works(2), 'the secret it replaced has the grace now');
  t.ok(await works(3));

  const short = await rotate({ grace_seconds: 1 }, 'a short grace');
  t.type(short.previous_secret_expires_at, 'string');
  t.ok(await works(3), 'the replaced secret works for a moment');
  t.notOk(await works(2), 'the older one does not');
  await sleep(1300);
  t.notOk(await works(3), 'once the grace is over, the replaced secret is refused');
  t.ok(await works(4), 'the current one works');
  t.equal((await call('GET', `/clients/${id}`)).body.previous_secret_expires_at, null, 'no grace is shown any more');

  const bare = await call('POST', `/clients/${id}/secret`);
  t.equal(bare.status, 200, 'a rotation without a body is one without grace');
  if (bare.status === 200) secrets.push(bare.body.client_secret);
  t.notOk(await works(4), 'the previous secret stopped at once');
  const current = secrets.length - 1;
  t.ok(await works(current));

  const audited = await newestAudit(call);
  for (const [what, body] of [
    ['grace over 7 days', { grace_seconds: 604_801 }],
    ['a negative grace', { grace_seconds: -1 }],
    ['a fractional grace', { grace_seconds: 1.5 }],
    ['a grace as a string', { grace_seconds: '60' }],
    ['an unknown field', { grace: 60 }],
    ['a client_secret of my choosing', { client_secret: 'mine-mine-mine' }],
  ] as const) {
    isProblem(t, await call('POST', `/clients/${id}/secret`, body), 400, what);
  }
  t.ok(await works(current), 'no refused rotation changed the secret');
  const maxGrace = await call('POST', `/clients/${id}/secret`, { grace_seconds: 604_800 });
  t.equal(maxGrace.status, 200, 'exactly 7 days is allowed');
  t.ok(await works(current), 'and keeps the old secret');
  secrets.push(maxGrace.body.client_secret);

  const spa = await create(t, call, { name: 'spa', public: true, redirect_uris: ['https://spa.example/cb'] });
  const keyed = await create(t, call, { name: 'keyed', jwks: await publicJwks('k') });
  const afterSetup = await newestAudit(call);
  isProblem(t, await call('POST', `/clients/${spa.client_id}/secret`, {}), 400, 'a public client', /public client has no secret/);
  isProblem(
    t,
    await call('POST', `/clients/${keyed.client_id}/secret`, { grace_seconds: 60 }),
    400,
    'a private_key_jwt client',
    /private_key_jwt/,
  );
  t.equal(
    (await call('GET', `/clients/${keyed.client_id}`)).body.token_endpoint_auth_method,
    'private_key_jwt',
    'the keyed client keeps its keys',
  );
  t.equal(await newestAudit(call), afterSetup, 'refused rotations wrote nothing');

  // The audit log: every rotation, by the admin client, with its grace and no secret.
  const entries = (await call('GET', '/audit?limit=500')).body.items as {
    id: number;
    actor: string;
    action: string;
    target: string;
    details: Record<string, unknown>;
  }[];
  const rotations = entries.filter((e) => e.action === 'client.rotate_secret' && e.target === id);
  t.same(
    rotations.map((e) => e.details.grace_seconds),
    [604_800, 0, 1, 3600, 3600, 0],
    'each rotation, newest first, with its grace',
  );
  t.ok(
    rotations.every((e) => e.actor === adminClient.id),
    'by the admin client',
  );
  t.ok(
    entries.some((e) => e.id > audited),
    'entries were written after the refusals',
  );
  const log = JSON.stringify(entries);
  t.equal(secrets.filter((secret) => log.includes(secret)).length, 0, 'no secret appears in the audit log');
  t.notOk(log.includes(adminClient.secret!), "nor the admin client's");
  t.equal(s.seen.filter(holdsStackTrace).length, 0, 'no response held a stack trace');
});

t.test('the audit log records each client change by the admin client, without secrets', async (t) => {
  const s = await startAdmin(t);
  const { call, adminClient } = s;
  const start = await newestAudit(call);
  const jwks = await publicJwks('audit-key');
  const made = await create(t, call, { name: 'audited', scopes: ['read'], jwks });
  const patched = await call('PATCH', `/clients/${made.client_id}`, { jwks: null, name: 'audited 2' });
  t.equal(patched.status, 200);
  t.type(patched.body.client_secret, 'string', 'dropping the keys gave it a secret');
  const secret = (await call('POST', `/clients/${made.client_id}/secret`, { grace_seconds: 60 })).body.client_secret as string;
  t.equal((await call('DELETE', `/clients/${made.client_id}`)).status, 204);
  const entries = (await call('GET', '/audit')).body.items as {
    id: number;
    at: string;
    actor: string;
    action: string;
    target: string;
    details: Record<string, unknown>;
  }[];
  const mine = entries.filter((e) => e.id > start);
  t.same(
    mine.map((e) => [e.action, e.target, e.actor]),
    [
      ['client.delete', made.client_id, adminClient.id],
      ['client.rotate_secret', made.client_id, adminClient.id],
      ['client.update', made.client_id, adminClient.id],
      ['client.create', made.client_id, adminClient.id],
    ],
    'newest first: delete, rotate, update, create',
  );
  const times = mine.map((e) => Date.parse(e.at));
  t.same(
    [...times].sort((a, b) => b - a),
    times,
    'in time order, newest first',
  );
  t.match(mine[3]!.details, { name: 'audited', scopes: ['read'] }, 'create: the settings given');
  t.equal(mine[3]!.details.jwks, true, 'create: the jwks only as "changed"');
  t.match(mine[2]!.details, { name: 'audited 2' }, 'update: the fields changed');
  const log = JSON.stringify(mine);
  t.notOk(log.includes(secret), 'no rotated secret');
  t.notOk(log.includes(patched.body.client_secret), 'no secret a change gave');
  t.notOk(log.includes(String(jwks.keys[0]!.x)), 'no key material');
});
