// /revoke (RFC 7009), and tokens dying with their user, client or password.
import t from 'tap';
import { basic, post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';

t.test('revocation and liveness', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const opaque = await registerClient(tessera, { grants: ['password', 'client_credentials'], scopes: ['read'] });
  const jwt = await registerClient(tessera, { grants: ['password', 'client_credentials'], scopes: ['read'], tokenFormat: 'jwt' });
  const introspector = await registerClient(tessera, { introspect: true });
  const as = (c: { id: string; secret?: string }) => ({ headers: { authorization: basic(c.id, c.secret!) } });
  const login = async (c: typeof opaque, user = username, pass = password) =>
    (await tokenRequest(app, c, { grant_type: 'password', username: user, password: pass })).body_ as Record<string, string>;
  const verifies = async (token: string) => (await post(app, '/token/verify', { token })).statusCode === 200;
  const introspects = async (token: string) => (await post(app, '/introspect', { token }, as(introspector))).body_.active === true;

  for (const [format, client] of [
    ['opaque', opaque],
    ['jwt', jwt],
  ] as const) {
    t.test(`revoking a ${format} access token`, async (t) => {
      const tokens = await login(client);
      t.ok(await verifies(tokens.access_token!));
      const res = await post(app, '/revoke', { token: tokens.access_token!, token_type_hint: 'access_token' }, as(client));
      t.equal(res.statusCode, 200);
      t.equal(res.headers['cache-control'], 'no-store');
      t.notOk(await verifies(tokens.access_token!), 'inactive at verify');
      t.notOk(await introspects(tokens.access_token!), 'inactive at introspect');
      const refreshed = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      t.equal(refreshed.statusCode, 200, 'the refresh token of its grant still works');
    });

    t.test(`revoking a refresh token revokes its family (${format})`, async (t) => {
      const first = await login(client);
      const second = (await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token! }))
        .body_ as Record<string, string>;
      const res = await post(app, '/revoke', { token: second.refresh_token! }, as(client));
      t.equal(res.statusCode, 200);
      t.notOk(await verifies(first.access_token!), 'the first access token is revoked');
      t.notOk(await verifies(second.access_token!), 'the second access token is revoked');
      t.notOk(await introspects(second.refresh_token!), 'the refresh token is inactive');
      const refresh = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: second.refresh_token! });
      t.equal(refresh.body_.error, 'invalid_grant');
    });
  }

  t.test("another client's token: 200 and no change", async (t) => {
    const tokens = await login(opaque);
    const other = await registerClient(tessera);
    for (const token of [tokens.access_token!, tokens.refresh_token!]) {
      const res = await post(app, '/revoke', { token }, as(other));
      t.equal(res.statusCode, 200);
    }
    t.ok(await verifies(tokens.access_token!), 'still active');
    t.ok(await introspects(tokens.refresh_token!), 'still active');
  });

  t.test('unknown and garbage tokens: 200', async (t) => {
    for (const token of ['garbage', `tsa_${'B'.repeat(43)}`, `tsr_${'B'.repeat(43)}`, 'a.b.c']) {
      t.equal((await post(app, '/revoke', { token }, as(opaque))).statusCode, 200);
    }
  });

  t.test('revoke needs an authenticated client and a token', async (t) => {
    const tokens = await login(opaque);
    const anonymous = await post(app, '/revoke', { token: tokens.access_token! });
    t.equal(anonymous.statusCode, 401);
    t.equal(anonymous.body_.error, 'invalid_client');
    const wrong = await post(app, '/revoke', { token: tokens.access_token! }, { headers: { authorization: basic(opaque.id, 'nope') } });
    t.equal(wrong.statusCode, 401);
    t.ok(await verifies(tokens.access_token!), 'nothing revoked');
    const missing = await post(app, '/revoke', {}, as(opaque));
    t.equal(missing.statusCode, 400);
    t.equal(missing.body_.error, 'invalid_request');
  });

  t.test('a public client revokes its own tokens with its client_id', async (t) => {
    const pub = await registerClient(tessera, { public: true, grants: ['password'] });
    const tokens = (await tokenRequest(app, pub, { grant_type: 'password', username, password })).body_ as Record<string, string>;
    const res = await post(app, '/revoke', { token: tokens.refresh_token!, client_id: pub.id });
    t.equal(res.statusCode, 200);
    t.notOk(await verifies(tokens.access_token!));
  });

  t.test('deactivating a user ends their tokens for good: activating revives none', async (t) => {
    await registerUser(tessera, 'dora', 'dora password');
    const a = await login(opaque, 'dora', 'dora password');
    const b = await login(jwt, 'dora', 'dora password');
    await tessera.users.setActive('dora', false);
    for (const token of [a.access_token!, b.access_token!]) {
      t.notOk(await verifies(token));
      t.notOk(await introspects(token));
    }
    t.notOk(await introspects(a.refresh_token!));
    t.equal(
      (await tokenRequest(app, opaque, { grant_type: 'refresh_token', refresh_token: a.refresh_token! })).body_.error,
      'invalid_grant',
    );
    await tessera.users.setActive('dora', true);
    for (const token of [a.access_token!, b.access_token!]) t.notOk(await verifies(token), 'still dead after reactivation');
    t.notOk(await introspects(a.refresh_token!));
    t.equal(
      (await tokenRequest(app, opaque, { grant_type: 'refresh_token', refresh_token: a.refresh_token! })).body_.error,
      'invalid_grant',
      'the refresh token stays dead',
    );
    // A JWT's iat has whole seconds: wait into the next second so the new sign-in is clearly after.
    await new Promise((r) => setTimeout(r, 1100));
    t.ok(await verifies((await login(jwt, 'dora', 'dora password')).access_token!), 'the reactivated user signs in afresh');
  });

  t.test('deleting a user ends their tokens', async (t) => {
    await registerUser(tessera, 'eve', 'eve password 1');
    const a = await login(opaque, 'eve', 'eve password 1');
    const b = await login(jwt, 'eve', 'eve password 1');
    await tessera.users.delete('eve');
    t.notOk(await verifies(a.access_token!));
    t.notOk(await verifies(b.access_token!));
    t.equal((await tokenRequest(app, jwt, { grant_type: 'refresh_token', refresh_token: b.refresh_token! })).body_.error, 'invalid_grant');
  });

  t.test('deleting a client ends its tokens', async (t) => {
    const doomed = await registerClient(tessera, { grants: ['password', 'client_credentials'], tokenFormat: 'jwt' });
    const doomedOpaque = await registerClient(tessera, { grants: ['client_credentials'] });
    const a = await login(doomed);
    const b = (await tokenRequest(app, doomedOpaque, { grant_type: 'client_credentials' })).body_ as Record<string, string>;
    await tessera.clients.delete(doomed.id);
    await tessera.clients.delete(doomedOpaque.id);
    t.notOk(await verifies(a.access_token!));
    t.notOk(await verifies(b.access_token!));
    t.equal((await tokenRequest(app, doomed, { grant_type: 'client_credentials' })).statusCode, 401, 'the client cannot authenticate');
  });

  t.test('changing a password ends every token of the user, access and refresh, JWT and opaque', async (t) => {
    await registerUser(tessera, 'finn', 'finn password 1');
    const a = await login(opaque, 'finn', 'finn password 1');
    const b = await login(jwt, 'finn', 'finn password 1');
    await tessera.users.setPassword('finn', 'finn password 2');
    for (const token of [a.access_token!, b.access_token!]) t.notOk(await verifies(token), 'the access token is dead at once');
    t.notOk(await introspects(a.refresh_token!), 'the refresh token is inactive');
    t.equal(
      (await tokenRequest(app, opaque, { grant_type: 'refresh_token', refresh_token: a.refresh_token! })).body_.error,
      'invalid_grant',
    );
    t.equal(
      (await tokenRequest(app, opaque, { grant_type: 'password', username: 'finn', password: 'finn password 1' })).body_.error,
      'invalid_grant',
    );
    await new Promise((r) => setTimeout(r, 1100));
    t.ok(await verifies((await login(opaque, 'finn', 'finn password 2')).access_token!), 'the new password works');
  });

  t.test('revoking everything a user holds', async (t) => {
    await registerUser(tessera, 'gus', 'gus password 1');
    const a = await login(opaque, 'gus', 'gus password 1');
    const b = await login(jwt, 'gus', 'gus password 1');
    await tessera.users.revokeEverything('gus');
    for (const token of [a.access_token!, b.access_token!]) t.notOk(await verifies(token));
    t.notOk(await introspects(a.refresh_token!));
    // A JWT's iat has whole seconds: wait into the next second so the new login is clearly after.
    await new Promise((r) => setTimeout(r, 1100));
    t.ok(await verifies((await login(jwt, 'gus', 'gus password 1')).access_token!), 'new sign-ins work');
  });
});
