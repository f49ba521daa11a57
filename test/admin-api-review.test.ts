// What a review of the admin API found, each pinned by a test that fails without its fix: two
// concurrent PATCHes of one client both take effect; an admin client's view sent back is accepted;
// a new audience and a client turned public end the tokens issued before; cursors out of the
// databases' ranges are 400s; every admin answer is no-store; the bearer scheme is case-insensitive;
// a token revoked twice is found (and announced) once; dynamic registration refuses what only an
// operator may set. Real apps (inject), real database, on SQLite and PostgreSQL.
import t, { type Test } from 'tap';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { basic, post, registerClient, registerUser } from './helpers/harness.ts';
import {
  ACTIVE,
  INACTIVE,
  clientToken,
  holdsStackTrace,
  isProblem,
  nextSecond,
  passwordGrant,
  refresh,
  startAdmin,
  tokenState,
  type AdminResponse,
  type Call,
} from './helpers/admin.ts';
import { openStream, type SseEvent } from './helpers/sse.ts';

type View = Record<string, unknown> & { client_id: string; client_secret?: string };

async function create(t: Test, call: Call, body: Record<string, unknown>): Promise<View> {
  const response = await call('POST', '/clients', body);
  t.equal(response.status, 201, `created ${String(body.name)} (${response.text.slice(0, 200)})`);
  return response.body as View;
}

/** The settings of a GET view, in the shape PATCH takes (the view says `type`, PATCH `public`). */
function settingsOf(view: View): Record<string, unknown> {
  const keys = [
    'name',
    'grants',
    'scopes',
    'token_format',
    'access_ttl',
    'refresh_ttl',
    'max_session',
    'audience',
    'redirect_uris',
    'origins',
    'introspect',
    'browser',
    'admin',
    'jwks',
    'jwks_uri',
  ];
  return { ...Object.fromEntries(keys.filter((key) => key in view).map((key) => [key, view[key]])), public: view.type === 'public' };
}

/** A view without what every write changes. */
function lasting(view: View): Record<string, unknown> {
  const { updated_at: _updated, ...rest } = view;
  return rest;
}

function verify(app: FastifyInstance, token: string, audience: string) {
  return post(app, '/token/verify', { token, audience });
}

t.test('two concurrent PATCHes of one client both take effect', async (t) => {
  const { call, tessera } = await startAdmin(t);
  for (let round = 1; round <= 5; round++) {
    const client = await create(t, call, { name: `racing ${round}`, scopes: ['a', 'b'] });
    const url = `/clients/${client.client_id}`;
    const [narrowed, renamed] = await Promise.all([call('PATCH', url, { scopes: ['a'] }), call('PATCH', url, { name: 'renamed' })]);
    t.equal(narrowed.status, 200, `round ${round}: the scopes PATCH is accepted`);
    t.equal(renamed.status, 200, `round ${round}: the name PATCH is accepted`);
    const got = (await call('GET', url)).body as View;
    t.equal(got.name, 'renamed', `round ${round}: the rename stuck`);
    t.same(got.scopes, ['a'], `round ${round}: the narrowing stuck`);
  }
  // The same two changes through the operation PATCH calls: on SQLite, requests through inject
  // hardly overlap (each runs nearly whole before the next), while these interleave at every await.
  for (let round = 1; round <= 5; round++) {
    const { client } = await tessera.clients.register({ name: `racing directly ${round}`, scopes: ['a', 'b'] });
    await Promise.all([tessera.clients.update(client.id, { scopes: ['a'] }), tessera.clients.update(client.id, { name: 'renamed' })]);
    const got = (await call('GET', `/clients/${client.id}`)).body as View;
    t.equal(got.name, 'renamed', `directly, round ${round}: the rename stuck`);
    t.same(got.scopes, ['a'], `directly, round ${round}: the narrowing stuck`);
  }
});

t.test("an admin client's view sent back is accepted; tessera:admin on a non-admin client is refused", async (t) => {
  const s = await startAdmin(t);
  const { call, app, adminClient } = s;
  const id = adminClient.id;
  const before = (await call('GET', `/clients/${id}`)).body as View;
  t.ok((before.scopes as string[]).includes('tessera:admin'), 'the view shows the scope tessera:admin');
  t.equal(before.admin, true);

  const sentBack = await call('PATCH', `/clients/${id}`, settingsOf(before));
  t.equal(sentBack.status, 200, `the view sent back is accepted (${sentBack.text.slice(0, 200)})`);
  t.notOk('client_secret' in (sentBack.body ?? {}), 'no new secret');
  const after = (await call('GET', `/clients/${id}`)).body as View;
  t.same(lasting(after), lasting(before), 'nothing changed (but updated_at)');
  t.equal(after.tokens_valid_after, null, 'nothing was ended');
  t.same(
    (after.scopes as string[]).filter((scope) => scope === 'tessera:admin'),
    ['tessera:admin'],
    'tessera:admin once',
  );
  t.equal((await call('GET', '/clients')).status, 200, "the admin client's token still opens the admin API");
  t.same(await tokenState(app, s.introspector, s.token), ACTIVE, 'and is active');
  t.equal((await call('GET', '/keys', undefined, { token: await clientToken(app, adminClient) })).status, 200, 'new tokens work too');

  // The same scope on an admin client, with other scopes: accepted too.
  const withScopes = await call('PATCH', `/clients/${id}`, { scopes: ['reports', 'tessera:admin'] });
  t.equal(withScopes.status, 200);
  t.same(withScopes.body.scopes, ['reports', 'tessera:admin']);

  const plain = await create(t, call, { name: 'plain', scopes: ['read'] });
  const plainBefore = (await call('GET', `/clients/${plain.client_id}`)).body as View;
  isProblem(
    t,
    await call('PATCH', `/clients/${plain.client_id}`, { scopes: ['read', 'tessera:admin'] }),
    400,
    'tessera:admin',
    /tessera:admin/,
  );
  isProblem(
    t,
    await call('PATCH', `/clients/${plain.client_id}`, { ...settingsOf(plainBefore), scopes: ['read', 'tessera:admin'] }),
    400,
    'its whole view with tessera:admin added',
    /tessera:admin/,
  );
  isProblem(
    t,
    await call('PATCH', `/clients/${id}`, { admin: false, scopes: ['tessera:admin'] }),
    400,
    'tessera:admin while turning admin off',
    /tessera:admin/,
  );
  t.same((await call('GET', `/clients/${plain.client_id}`)).body, plainBefore, 'the plain client is unchanged');
  t.equal((await call('GET', `/clients/${id}`)).body.admin, true, 'the admin client is still one');
  t.equal(
    (await call('GET', '/clients', undefined, { token: await clientToken(app, { id: plain.client_id, secret: plain.client_secret }) }))
      .status,
    403,
    'the plain client cannot open the admin API',
  );
});

t.test("a new audience ends the client's tokens; those issued afterwards carry it", async (t) => {
  const { call, app, introspector } = await startAdmin(t);
  const API = 'https://api.example';
  const OTHER = 'https://other.example';
  const made = await create(t, call, { name: 'aud', audience: API });
  const client = { id: made.client_id, secret: made.client_secret! };
  const old = await clientToken(app, client);
  t.match(old, /^tsa_/, 'an opaque access token');
  t.equal((await verify(app, old, API)).statusCode, 200, 'it verifies with its audience');
  t.equal((await verify(app, old, OTHER)).statusCode, 401, 'and not with another');

  const patched = await call('PATCH', `/clients/${client.id}`, { audience: OTHER });
  t.equal(patched.status, 200);
  t.equal(patched.body.audience, OTHER);
  t.type(patched.body.tokens_valid_after, 'string', 'tokens_valid_after is set');
  t.same(await tokenState(app, introspector, old), INACTIVE, 'the token issued before is inactive');
  t.equal((await verify(app, old, OTHER)).statusCode, 401, 'it does not verify with the new audience');
  t.equal((await verify(app, old, API)).statusCode, 401, 'nor with the old one');

  await nextSecond();
  const fresh = await clientToken(app, client);
  const verified = await verify(app, fresh, OTHER);
  t.equal(verified.statusCode, 200, 'a token issued afterwards verifies with the new audience');
  t.equal(verified.body_.aud, OTHER);
  t.equal((await verify(app, fresh, API)).statusCode, 401, 'and not with the old one');

  // Clearing the audience is a change of audience too.
  t.equal((await call('PATCH', `/clients/${client.id}`, { audience: null })).status, 200);
  t.same(await tokenState(app, introspector, fresh), INACTIVE, 'clearing the audience ends the tokens too');
  // Anything else leaves them alone.
  await nextSecond();
  const kept = await clientToken(app, client);
  t.equal((await call('PATCH', `/clients/${client.id}`, { name: 'aud renamed', audience: null })).status, 200);
  t.same(await tokenState(app, introspector, kept), ACTIVE, 'the same audience again ends nothing');
});

t.test('a confidential client made public cannot use the refresh tokens issued before', async (t) => {
  const { call, app, tessera, introspector } = await startAdmin(t);
  const { username, password } = await registerUser(tessera, 'pia', 'pia password 1234');
  const made = await create(t, call, { name: 'turning public', grants: ['password'] });
  t.same(made.grants, ['password', 'refresh_token']);
  const confidential = { id: made.client_id, secret: made.client_secret! };
  const asPublic = { id: made.client_id };
  const first = await passwordGrant(app, confidential, username, password);
  const second = await passwordGrant(app, confidential, username, password);
  t.equal((await refresh(app, confidential, first.refresh_token)).status, 200, 'refresh works while confidential');
  t.not((await refresh(app, asPublic, second.refresh_token)).status, 200, 'and not without the secret');

  const patched = await call('PATCH', `/clients/${made.client_id}`, { public: true });
  t.equal(patched.status, 200, patched.text.slice(0, 200));
  t.match(patched.body, { type: 'public', token_endpoint_auth_method: 'none' });
  const refused = await refresh(app, asPublic, second.refresh_token);
  t.equal(refused.status, 400, 'the refresh token issued before: 400');
  t.equal(refused.error, 'invalid_grant', 'invalid_grant');
  t.same(await tokenState(app, introspector, second.access_token), INACTIVE, 'the access token issued before is inactive');

  await nextSecond();
  const now = await passwordGrant(app, asPublic, username, password);
  t.same(await tokenState(app, introspector, now.access_token), ACTIVE, 'a token issued to the public client afterwards works');
  t.equal((await refresh(app, asPublic, now.refresh_token)).status, 200, 'and its refresh token');
});

t.test('cursors out of range are 400 problems, not 500s', async (t) => {
  const s = await startAdmin(t);
  const { call } = s;
  for (const cursor of ['2147483648', '99999999999', '9999999999999999']) {
    isProblem(t, await call('GET', `/audit?cursor=${cursor}`), 400, `audit cursor ${cursor}`);
  }
  const top = await call('GET', '/audit?cursor=2147483647');
  t.equal(top.status, 200, 'the largest 32-bit id is a cursor');
  t.ok(Array.isArray(top.body?.items), 'with items');

  const creation = (text: string) => Buffer.from(text).toString('base64url');
  const forged: [string, string][] = [
    ['past year 9999', creation('253402300800000.abc')],
    ['far past year 9999', creation('8640000000000000.abc')],
    ['a negative date', creation('-1000.abc')],
    ['before 1970 by a day', creation('-86400000.abc')],
  ];
  for (const list of ['clients', 'users']) {
    for (const [what, cursor] of forged) isProblem(t, await call('GET', `/${list}?cursor=${cursor}`), 400, `${list}: ${what}`);
    const edge = await call('GET', `/${list}?cursor=${creation('253402300799999.abc')}`);
    t.equal(edge.status, 200, `${list}: the last millisecond of 9999 is a cursor`);
    t.same(edge.body?.items, [], `${list}: after which there is nothing`);
  }
  t.equal(s.seen.filter(holdsStackTrace).length, 0, 'no answer held a stack trace');
});

t.test('every admin API answer is Cache-Control: no-store', async (t) => {
  const { call } = await startAdmin(t);
  const noStore = (response: AdminResponse, what: string) => t.equal(response.headers['cache-control'], 'no-store', `${what}: no-store`);
  const created = await call('POST', '/clients', { name: 'cached?' });
  t.equal(created.status, 201);
  t.type(created.body.client_secret, 'string', 'the create holds a secret');
  noStore(created, 'a create with a client_secret');
  const id = created.body.client_id as string;
  noStore(await call('GET', `/clients/${id}`), 'a GET');
  noStore(await call('GET', '/clients'), 'a list');
  noStore(await call('POST', `/clients/${id}/secret`, {}), 'a secret rotation');
  noStore(await call('GET', '/audit'), 'the audit log');
  const missing = await call('GET', '/clients/no-such-client');
  t.equal(missing.status, 404);
  noStore(missing, 'a 404 problem');
  const invalid = await call('POST', '/clients', { colour: 'blue' });
  t.equal(invalid.status, 400);
  noStore(invalid, 'a 400 problem');
  const anonymous = await call('GET', '/clients', undefined, { token: null });
  t.equal(anonymous.status, 401);
  noStore(anonymous, 'a 401 problem');
  const deleted = await call('DELETE', `/clients/${id}`);
  t.equal(deleted.status, 204);
  noStore(deleted, 'a 204');
});

t.test('the bearer scheme is case-insensitive', async (t) => {
  const { call, token } = await startAdmin(t);
  for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
    const response = await call('GET', '/clients', undefined, { token: null, headers: { authorization: `${scheme} ${token}` } });
    t.equal(response.status, 200, `"${scheme}" is accepted`);
  }
  isProblem(
    t,
    await call('GET', '/clients', undefined, { token: null, headers: { authorization: `Basic ${token}` } }),
    401,
    'another scheme',
  );
  isProblem(
    t,
    await call('GET', '/clients', undefined, { token: null, headers: { authorization: `bearer  ${token}` } }),
    401,
    'two spaces',
  );
});

t.test('a token revoked twice is found, and announced, once', async (t) => {
  const s = await startAdmin(t);
  const { app, call, tessera, introspector } = s;
  await registerUser(tessera, 'rex', 'rex password 1234');
  const opaque = await registerClient(tessera, { name: 'opaque', grants: ['client_credentials', 'password'] });
  const jwt = await registerClient(tessera, { name: 'jwt', grants: ['client_credentials', 'password'], tokenFormat: 'jwt' });

  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.server.closeAllConnections());
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const stream = await openStream(`${url}/revocations`, { headers: { authorization: basic(introspector.id, introspector.secret!) } });
  t.teardown(() => stream.close());
  t.equal(stream.status, 200, 'listening to the revocation stream');
  await stream.next((e) => e.event === 'synced');
  const from = stream.events.length;

  const tokens: [string, string][] = [
    ['an opaque access token', await clientToken(app, opaque)],
    ['a JWT access token', await clientToken(app, jwt)],
    ['a refresh token', (await passwordGrant(app, opaque, 'rex', 'rex password 1234')).refresh_token],
  ];
  t.match(tokens[0]![1], /^tsa_/);
  t.equal(tokens[1]![1].split('.').length, 3);
  t.match(tokens[2]![1], /^tsr_/);
  for (const [what, token] of tokens) {
    const first = await call('POST', '/tokens/revoke', { token });
    t.equal(first.status, 200);
    t.same(first.body, { revoked: 'token', found: true }, `${what}: found the first time`);
    const second = await call('POST', '/tokens/revoke', { token });
    t.equal(second.status, 200);
    t.same(second.body, { revoked: 'token', found: false }, `${what}: not found the second time`);
  }
  t.same(await tokenState(app, introspector, tokens[0]![1]), INACTIVE);
  t.same(await tokenState(app, introspector, tokens[1]![1]), INACTIVE);
  t.equal((await refresh(app, opaque, tokens[2]![1])).error, 'invalid_grant');

  // A last revocation marks the end: events arrive in order, so any repeat came before it.
  const marker = await clientToken(app, jwt);
  const markerJti = JSON.parse(Buffer.from(marker.split('.')[1]!, 'base64url').toString()).jti as string;
  t.same((await call('POST', '/tokens/revoke', { token: marker })).body, { revoked: 'token', found: true });
  const isMarker = (e: SseEvent) => e.event === 'revocation' && JSON.parse(e.data).jti === markerJti;
  await stream.next(isMarker, 5000, from);
  const told = stream.events.slice(from);
  const revocations = told.slice(0, told.findIndex(isMarker)).filter((e) => e.event === 'revocation');
  t.equal(revocations.length, 3, 'one event for each of the three tokens, none for a second revocation');
  t.equal(new Set(revocations.map((e) => e.data)).size, 3, 'three different events');
});

t.test('dynamic registration refuses jwks_uri, the password grant and custom-scheme redirect URIs', async (t) => {
  const { app, tessera, call } = await startAdmin(t);
  const { token } = await tessera.registrationTokens.createInitial({ ttl: 600 });
  const clientsBefore = (await call('GET', '/clients?limit=500')).body.items.length as number;
  const register = async (metadata: Record<string, unknown>) => {
    const response = await app.inject({
      method: 'POST',
      url: '/register',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify(metadata),
    });
    return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown>, text: response.body };
  };
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'jwks_uri',
      { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example.com/jwks.json' },
      'invalid_client_metadata',
      /jwks_uri/,
    ],
    ['jwks_uri alone', { jwks_uri: 'https://keys.example.com/jwks.json' }, 'invalid_client_metadata', /jwks_uri/],
    ['the password grant', { grant_types: ['password'] }, 'invalid_client_metadata', /password/],
    ['the password grant among others', { grant_types: ['client_credentials', 'password'] }, 'invalid_client_metadata', /password/],
    ['a custom-scheme redirect URI', { redirect_uris: ['com.example.app:/cb'] }, 'invalid_redirect_uri', /https/],
  ];
  for (const [what, metadata, error, description] of cases) {
    const response = await register(metadata);
    t.equal(response.status, 400, `${what}: 400 (${response.text.slice(0, 200)})`);
    t.equal(response.body.error, error, `${what}: ${error}`);
    t.match(response.body.error_description, description, `${what}: says why`);
  }
  t.equal((await call('GET', '/clients?limit=500')).body.items.length, clientsBefore, 'no client was registered');
  const accepted = await register({ grant_types: ['client_credentials'], client_name: 'fine' });
  t.equal(accepted.status, 201, `the same token registers a valid client (${accepted.text.slice(0, 200)})`);
});
