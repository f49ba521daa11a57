// The admin API's door: who may call it (a client_credentials token with tessera:admin of a client
// that is an admin client now, checked before the body is looked at), its root document, and how
// it stands up to bad input. Real apps (inject), real database, on SQLite and PostgreSQL.
import t from 'tap';
import { ISSUER, post, registerClient, registerUser, tokenRequest } from './helpers/harness.ts';
import {
  ADMIN,
  clientToken,
  holdsStackTrace,
  isProblem,
  nextSecond,
  passwordGrant,
  sleep,
  startAdmin,
  type AdminResponse,
} from './helpers/admin.ts';

t.test('GET /admin/v1 needs no token and names the token endpoint', async (t) => {
  const { call } = await startAdmin(t);
  const root = await call('GET', ADMIN, undefined, { token: null });
  t.equal(root.status, 200);
  t.equal(root.body.issuer, ISSUER);
  t.equal(root.body.token_endpoint, `${ISSUER}/token`);
  t.type(root.body.version, 'string');
  const openapi = await call('GET', '/admin/openapi.json', undefined, { token: null });
  t.equal(openapi.status, 200, 'the admin OpenAPI document is served on the admin listener');
  t.ok(openapi.body.paths[`${ADMIN}/clients/{client_id}/secret`], 'it documents the secret rotation');
});

t.test('who may call the admin API', async (t) => {
  const { app, tessera, call, adminClient, token, introspector } = await startAdmin(t);
  const unauthorized = (response: AdminResponse, what: string) => {
    isProblem(t, response, 401, what);
    t.match(String(response.headers['www-authenticate']), /^Bearer /, `${what}: WWW-Authenticate: Bearer`);
    t.notOk(response.body?.items, `${what}: no data`);
  };

  t.equal((await call('GET', '/clients')).status, 200, 'the admin token works');

  unauthorized(await call('GET', '/clients', undefined, { token: null }), 'no Authorization');
  unauthorized(await call('GET', '/clients', undefined, { token: 'nonsense' }), 'a garbage token');
  unauthorized(await call('GET', '/clients', undefined, { token: `tsa_${'A'.repeat(43)}` }), 'an unknown opaque token');
  unauthorized(
    await call('GET', '/clients', undefined, {
      token: null,
      headers: { authorization: `Basic ${Buffer.from(`${adminClient.id}:${adminClient.secret}`).toString('base64')}` },
    }),
    "the admin client's Basic credentials",
  );
  unauthorized(
    await call('GET', '/clients', undefined, { token: null, headers: { authorization: `Bearer  ${token}` } }),
    'a malformed Bearer header',
  );
  unauthorized(await call('GET', '/users', undefined, { token: 'x'.repeat(5000) }), 'an over-long token');
  // A JWT signed by someone else, shaped right.
  const forged = `${Buffer.from('{"alg":"ES256","typ":"at+jwt","kid":"k"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISSUER, sub: adminClient.id, client_id: adminClient.id, scope: 'tessera:admin', exp: 9999999999 })).toString('base64url')}.AAAA`;
  unauthorized(await call('GET', '/clients', undefined, { token: forged }), 'a forged JWT');

  // Expired: an admin client whose tokens live one second.
  const shortLived = await registerClient(tessera, { name: 'short-lived admin', admin: true, accessTtl: 1 });
  const expiring = await clientToken(app, shortLived);
  t.equal((await call('GET', '/keys', undefined, { token: expiring })).status, 200, 'the short-lived token works at first');
  await sleep(1100);
  unauthorized(await call('GET', '/keys', undefined, { token: expiring }), 'an expired admin token');

  // Revoked at /revoke by its own client (RFC 7009).
  const second = await clientToken(app, adminClient);
  t.equal((await call('GET', '/users', undefined, { token: second })).status, 200);
  const revokedHere = await post(
    app,
    '/revoke',
    { token: second },
    { headers: { authorization: `Basic ${Buffer.from(`${adminClient.id}:${adminClient.secret}`).toString('base64')}` } },
  );
  t.equal(revokedHere.statusCode, 200);
  unauthorized(await call('GET', '/users', undefined, { token: second }), 'a revoked admin token');
  t.equal((await call('GET', '/users')).status, 200, 'the other admin token is untouched');

  // A valid token of a client that is not an admin client: 403, insufficient_scope.
  const plain = await registerClient(tessera, { name: 'plain service', scopes: ['read'] });
  const plainToken = await clientToken(app, plain);
  const forbidden = await call('GET', '/clients', undefined, { token: plainToken });
  isProblem(t, forbidden, 403, 'a non-admin client token');
  t.match(String(forbidden.headers['www-authenticate']), /^Bearer .*error="insufficient_scope"/);
  isProblem(
    t,
    await call('POST', '/users', { username: 'mallory', password: 'long enough password' }, { token: plainToken }),
    403,
    'a non-admin token cannot create',
  );
  t.equal((await call('GET', '/users/mallory')).status, 404, 'and nothing was created');
  // The introspecting client is no admin either.
  isProblem(t, await call('GET', '/audit', undefined, { token: await clientToken(app, introspector) }), 403, 'an introspecting client');

  // A user's token from an admin client that also has the password grant: never an admin token.
  const both = await registerClient(tessera, { name: 'admin with password', admin: true, grants: ['client_credentials', 'password'] });
  t.equal((await call('GET', '/clients', undefined, { token: await clientToken(app, both) })).status, 200, 'its own token works');
  const { username, password } = await registerUser(tessera, 'olivia', 'olivia password 1');
  const userTokens = await passwordGrant(app, both, username, password);
  const userIntrospection = await post(
    app,
    '/introspect',
    { token: userTokens.access_token },
    { headers: { authorization: `Basic ${Buffer.from(`${introspector.id}:${introspector.secret}`).toString('base64')}` } },
  );
  t.match(userIntrospection.body_.scope, /tessera:admin/, 'the user token does carry the scope');
  isProblem(t, await call('GET', '/clients', undefined, { token: userTokens.access_token }), 403, "a user's token of an admin client");
  // Nor one the admin API itself issues for a user of an admin client.
  const issued = await call('POST', '/tokens', { user: 'olivia', client_id: both.id });
  t.equal(issued.status, 201);
  isProblem(
    t,
    await call('GET', '/clients', undefined, { token: issued.body.access_token }),
    403,
    'an admin-issued user token of an admin client',
  );
  // Refresh tokens are not access tokens.
  isProblem(t, await call('GET', '/clients', undefined, { token: userTokens.refresh_token }), 401, 'a refresh token');

  // No other client can get the scope.
  const asked = await tokenRequest(app, plain, { grant_type: 'client_credentials', scope: 'tessera:admin' });
  t.equal(asked.statusCode, 400);
  t.equal(asked.body_.error, 'invalid_scope', 'a non-admin client asking for tessera:admin: invalid_scope');
  const askedWithOther = await tokenRequest(app, plain, { grant_type: 'client_credentials', scope: 'read tessera:admin' });
  t.equal(askedWithOther.body_.error, 'invalid_scope', 'not even alongside its own scope');
  const before = (await call('GET', '/clients?limit=500')).body.items.length;
  isProblem(
    t,
    await call('POST', '/clients', { name: 'sneaky', scopes: ['tessera:admin'] }),
    400,
    'registering the scope by hand',
    /tessera:admin/,
  );
  isProblem(
    t,
    await call('PATCH', `/clients/${plain.id}`, { scopes: ['read', 'tessera:admin'] }),
    400,
    'adding the scope by hand',
    /tessera:admin/,
  );
  t.same((await call('GET', `/clients/${plain.id}`)).body.scopes, ['read'], 'the plain client is unchanged');
  t.equal((await call('GET', '/clients?limit=500')).body.items.length, before, 'nothing was registered');
  await t.rejects(tessera.clients.register({ name: 'sneaky', scopes: ['tessera:admin'] }), /given by --admin/);

  // An admin token stops working at once when its client is deleted…
  const doomed = await registerClient(tessera, { name: 'doomed admin', admin: true });
  const doomedToken = await clientToken(app, doomed);
  t.equal((await call('GET', '/keys', undefined, { token: doomedToken })).status, 200);
  t.equal((await call('DELETE', `/clients/${doomed.id}`)).status, 204);
  unauthorized(await call('GET', '/keys', undefined, { token: doomedToken }), "a deleted admin client's token");

  // …or is made a non-admin client.
  const demoted = await registerClient(tessera, { name: 'demoted admin', admin: true, scopes: ['read'] });
  const demotedToken = await clientToken(app, demoted);
  t.equal((await call('GET', '/keys', undefined, { token: demotedToken })).status, 200);
  const patched = await call('PATCH', `/clients/${demoted.id}`, { admin: false });
  t.equal(patched.status, 200);
  t.equal(patched.body.admin, false);
  t.same(patched.body.scopes, ['read'], 'tessera:admin left its scopes');
  t.equal(patched.body.client_id, demoted.id);
  const afterDemotion = await call('GET', '/keys', undefined, { token: demotedToken });
  // Dropping admin narrows its scopes: the token ended with the others.
  unauthorized(afterDemotion, "a demoted admin client's token");
  const again = await tokenRequest(app, demoted, { grant_type: 'client_credentials', scope: 'tessera:admin' });
  // A token issued in the same whole second as a narrowing counts as issued before it (iat has whole seconds).
  await nextSecond();
  t.equal(again.body_.error, 'invalid_scope', 'and it can no longer ask for the scope');
  isProblem(t, await call('GET', '/keys', undefined, { token: await clientToken(app, demoted) }), 403, 'its fresh token is no admin token');
  t.equal((await call('GET', '/keys', undefined, { token: await clientToken(app, both) })).status, 200, 'other admin clients go on');
});

t.test('the caller is checked before the body', async (t) => {
  const { app, tessera, call } = await startAdmin(t);
  const plainToken = await clientToken(app, await registerClient(tessera, { name: 'plain' }));
  const bodies: [string, string | Buffer][] = [
    ['an invalid body', JSON.stringify({ name: 5, bogus: true })],
    ['malformed JSON', '{"name": '],
    ['a body that is not UTF-8', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
    ['an oversized body', JSON.stringify({ name: 'x'.repeat(70 * 1024) })],
  ];
  for (const [what, raw] of bodies) {
    isProblem(t, await call('POST', '/clients', undefined, { token: null, raw }), 401, `no token, ${what}`);
    isProblem(t, await call('POST', '/clients', undefined, { token: 'garbage', raw }), 401, `a garbage token, ${what}`);
    isProblem(t, await call('POST', '/clients', undefined, { token: plainToken, raw }), 403, `a non-admin token, ${what}`);
  }
  isProblem(t, await call('PATCH', '/clients/nope', { nonsense: 1 }, { token: null }), 401, 'no token, PATCH of an unknown client');
  isProblem(t, await call('GET', '/clients?limit=abc', undefined, { token: null }), 401, 'no token, a bad query');
  isProblem(t, await call('POST', '/clients', { name: 'x', bogus: true }), 400, 'the same invalid body with the admin token is 400');
  t.same(
    (await call('GET', '/clients')).body.items.map((c: { name: string }) => c.name),
    ['ops console', 'resource server', 'plain'],
    'nothing was registered',
  );
});

t.test('bad input is a 4xx problem, never a stack trace, and the server goes on', async (t) => {
  const { call, seen } = await startAdmin(t);
  // Fastify's router answers these two before any handler of ours runs (frameworkErrors is not
  // set on the admin app): a 4xx, but plain JSON rather than a problem document.
  const routerErrors = new Set(['broken percent-encoding in the path', 'a path parameter that is too long']);
  const badRequests: [string, () => Promise<AdminResponse>, number[]][] = [
    ['malformed JSON', () => call('POST', '/clients', undefined, { raw: '{"name": "x",' }), [400]],
    ['JSON that is a string', () => call('POST', '/clients', undefined, { raw: '"just a string"' }), [400]],
    ['JSON null', () => call('POST', '/clients', undefined, { raw: 'null' }), [400]],
    ['an empty JSON body', () => call('POST', '/clients', undefined, { raw: '' }), [400]],
    [
      'a body that is not UTF-8',
      () =>
        call('POST', '/clients', undefined, {
          raw: Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
        }),
      [400],
    ],
    [
      'a PATCH that is not UTF-8',
      () =>
        call('PATCH', '/users/nobody', undefined, {
          raw: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff]), Buffer.from('"}')]),
        }),
      [400],
    ],
    [
      'an oversized body (> 64 KiB)',
      () => call('POST', '/clients', undefined, { raw: JSON.stringify({ name: 'a', redirect_uris: ['x'.repeat(66 * 1024)] }) }),
      [413],
    ],
    ['a proto-poisoning body', () => call('POST', '/clients', undefined, { raw: '{"name":"x","__proto__":{"admin":true}}' }), [400]],
    [
      'a constructor-poisoning body',
      () =>
        call('POST', '/users', undefined, { raw: '{"username":"x","password":"long enough pass","constructor":{"prototype":{"a":1}}}' }),
      [400],
    ],
    ['text/plain', () => call('POST', '/clients', undefined, { headers: { 'content-type': 'text/plain' }, raw: 'name=x' }), [400, 415]],
    [
      'a form body',
      () =>
        call('POST', '/users', undefined, {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          raw: 'username=x&password=long+enough+pass',
        }),
      [415],
    ],
    ['a NUL in a JSON string', () => call('POST', '/users', { username: 'nul\u0000user', password: 'long enough password' }), [400]],
    ['a NUL in the path', () => call('GET', '/users/a%00b'), [400]],
    ['a NUL in a client id', () => call('DELETE', '/clients/a%00b'), [400]],
    ['a NUL in a kid', () => call('POST', '/keys/a%00b/revoke'), [400]],
    ['a NUL in the query', () => call('GET', '/clients?cursor=a%00'), [400]],
    ['a NUL in a client name', () => call('POST', '/clients', { name: 'a\u0000b' }), [400]],
    ['a NUL in an audience', () => call('POST', '/clients', { name: 'x', audience: 'api\u0000' }), [400]],
    [
      'a NUL in a redirect URI',
      () => call('POST', '/clients', { name: 'x', grants: ['authorization_code'], redirect_uris: ['https://app.example/cb\u0000'] }),
      [400],
    ],
    ['a NUL in a jwks_uri', () => call('POST', '/clients', { name: 'x', jwks_uri: 'https://keys.example/\u0000' }), [400]],
    [
      'a NUL in an email',
      () => call('POST', '/users', { username: 'nul-mail', password: 'long enough password', email: 'a\u0000@b.example' }),
      [400],
    ],
    ['a NUL in a password', () => call('POST', '/users', { username: 'nul-pass', password: 'long enough\u0000password' }), [400]],
    ['a NUL in a JSON key', () => call('POST', '/clients', undefined, { raw: '{"name":"x","jwks":{"keys":[],"a\\u0000":1}}' }), [400]],
    ['a NUL in a user to revoke', () => call('POST', '/tokens/revoke', { user: 'alice\u0000' }), [400]],
    ['a NUL in a client to revoke', () => call('POST', '/tokens/revoke', { client_id: 'c\u0000' }), [400]],
    ['a NUL in a user to issue for', () => call('POST', '/tokens', { user: 'alice\u0000', client_id: 'c' }), [400]],
    ['broken percent-encoding in the path', () => call('GET', '/clients/%zz'), [400, 404]],
    ['broken percent-encoding in the query', () => call('GET', '/clients?limit=%zz'), [400]],
    ['a path parameter that is too long', () => call('GET', `/clients/${'a'.repeat(300)}`), [400, 414]],
    [
      'a deeply nested body',
      () => call('POST', '/clients', undefined, { raw: `{"name":"x","jwks":${'{"keys":['.repeat(2000)}${']}'.repeat(2000)}}` }),
      [400],
    ],
    ['a huge number', () => call('PATCH', '/clients/nope', { access_ttl: 1e308 }), [400]],
    ['an unknown endpoint', () => call('GET', '/nothing-here'), [404]],
    ['an unknown method', () => call('PUT', '/clients'), [404, 405]],
  ];
  for (const [what, send, statuses] of badRequests) {
    const response = await send();
    t.ok(statuses.includes(response.status), `${what}: ${response.status} is one of ${statuses.join(', ')}`);
    if (routerErrors.has(what)) {
      t.match(String(response.headers['content-type']), /^application\/problem\+json/, `${what}: application/problem+json`);
      t.notOk(holdsStackTrace(response.text), `${what}: no stack trace`);
    } else {
      isProblem(t, response, response.status, what);
    }
  }
  const users = await call('GET', '/users');
  t.same(users.body.items, [], 'no refused request created a user');
  const clients = await call('GET', '/clients');
  t.equal(clients.status, 200, 'the server still answers');
  t.same(
    clients.body.items.map((c: { name: string }) => c.name),
    ['ops console', 'resource server'],
    'no refused request registered a client',
  );
  t.equal(seen.filter(holdsStackTrace).length, 0, 'no response held a stack trace');
  t.equal(seen.filter((text) => /"status":5\d\d/.test(text)).length, 0, 'no response was a 5xx');
});
