// POST /token: every grant, both client authentication methods, public clients, both formats.
import t from 'tap';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { basic, post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';

t.test('client_credentials', async (t) => {
  const { app, tessera } = await startTessera(t);
  const client = await registerClient(tessera, { scopes: ['read', 'write'] });

  t.test('Basic authentication, opaque token, all registered scopes by default', async (t) => {
    const res = await tokenRequest(app, client, { grant_type: 'client_credentials' });
    t.equal(res.statusCode, 200);
    t.equal(res.headers['cache-control'], 'no-store');
    t.equal(res.headers.pragma, 'no-cache');
    t.match(res.body_, { token_type: 'Bearer', expires_in: Number, scope: 'read write' });
    t.match(res.body_.access_token, /^tsa_[A-Za-z0-9_-]{43}$/);
    t.ok((res.body_.expires_in as number) >= 299 && (res.body_.expires_in as number) <= 300, 'default lifetime 300 s');
    t.notOk('refresh_token' in res.body_, 'no refresh token for client_credentials');
  });

  t.test('client_secret_post in a form and in JSON', async (t) => {
    const form = { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret!, scope: 'read' };
    const viaForm = await post(app, '/token', form);
    t.equal(viaForm.statusCode, 200);
    t.equal(viaForm.body_.scope, 'read');
    const viaJson = await post(app, '/token', form, { json: true });
    t.equal(viaJson.statusCode, 200);
    t.equal(viaJson.body_.scope, 'read');
  });

  t.test('a scope outside the registration is invalid_scope', async (t) => {
    const res = await tokenRequest(app, client, { grant_type: 'client_credentials', scope: 'read admin' });
    t.equal(res.statusCode, 400);
    t.equal(res.body_.error, 'invalid_scope');
  });

  t.test('wrong secret: 401 invalid_client, with a Basic challenge when Basic was used', async (t) => {
    const viaBasic = await tokenRequest(app, { id: client.id, secret: 'tss_wrong' }, { grant_type: 'client_credentials' });
    t.equal(viaBasic.statusCode, 401);
    t.equal(viaBasic.body_.error, 'invalid_client');
    t.match(viaBasic.headers['www-authenticate'], /^Basic realm=/);
    const viaPost = await post(app, '/token', { grant_type: 'client_credentials', client_id: client.id, client_secret: 'nope' });
    t.equal(viaPost.statusCode, 401);
    t.equal(viaPost.body_.error, 'invalid_client');
    t.notOk(viaPost.headers['www-authenticate'], 'no challenge without Basic');
    const unknown = await tokenRequest(app, { id: 'no-such-client', secret: 'x' }, { grant_type: 'client_credentials' });
    t.equal(unknown.statusCode, 401);
    t.equal(unknown.body_.error, 'invalid_client');
    const none = await post(app, '/token', { grant_type: 'client_credentials' });
    t.equal(none.statusCode, 401);
    t.equal(none.body_.error, 'invalid_client');
  });

  t.test('Basic credentials are form-urlencoded (RFC 6749 §2.3.1)', async (t) => {
    // A secret with no reserved characters is unchanged by encoding; an encoded id decodes.
    const header = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${client.secret}`).toString('base64')}`;
    const res = await post(app, '/token', { grant_type: 'client_credentials' }, { headers: { authorization: header } });
    t.equal(res.statusCode, 200);
  });

  t.test('JWT access tokens (RFC 9068)', async (t) => {
    const jwtClient = await registerClient(tessera, { scopes: ['read'], tokenFormat: 'jwt', audience: 'https://api.example.com' });
    const res = await tokenRequest(app, jwtClient, { grant_type: 'client_credentials' });
    t.equal(res.statusCode, 200);
    const token = res.body_.access_token as string;
    t.match(decodeProtectedHeader(token), { typ: 'at+jwt', alg: 'ES256', kid: String });
    const claims = decodeJwt(token);
    t.match(claims, {
      iss: 'http://localhost:3000',
      sub: jwtClient.id,
      client_id: jwtClient.id,
      aud: 'https://api.example.com',
      scope: 'read',
      jti: String,
    });
    t.equal((claims.exp as number) - (claims.iat as number), 300);
  });

  t.test('per-client lifetimes', async (t) => {
    const short = await registerClient(tessera, { accessTtl: 60 });
    const res = await tokenRequest(app, short, { grant_type: 'client_credentials' });
    t.ok((res.body_.expires_in as number) <= 60 && (res.body_.expires_in as number) >= 59);
  });
});

t.test('password grant', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const client = await registerClient(tessera, { grants: ['password'], scopes: ['profile', 'email'] });

  t.test('issues an access token and a refresh token', async (t) => {
    const res = await tokenRequest(app, client, { grant_type: 'password', username, password, scope: 'profile' });
    t.equal(res.statusCode, 200);
    t.match(res.body_, { token_type: 'Bearer', scope: 'profile' });
    t.match(res.body_.refresh_token, /^tsr_[A-Za-z0-9_-]{43}$/);
  });

  t.test('unknown user and wrong password give the same answer', async (t) => {
    const wrong = await tokenRequest(app, client, { grant_type: 'password', username, password: 'wrong password' });
    const unknown = await tokenRequest(app, client, { grant_type: 'password', username: 'nobody', password });
    t.equal(wrong.statusCode, 400);
    t.equal(unknown.statusCode, 400);
    t.same(wrong.body_, unknown.body_);
    t.equal(wrong.body_.error, 'invalid_grant');
  });

  t.test('an inactive user cannot sign in', async (t) => {
    await registerUser(tessera, 'bob', 'bob password 1');
    await tessera.users.setActive('bob', false);
    const res = await tokenRequest(app, client, { grant_type: 'password', username: 'bob', password: 'bob password 1' });
    t.equal(res.body_.error, 'invalid_grant');
  });

  t.test('missing username or password is invalid_request', async (t) => {
    const res = await tokenRequest(app, client, { grant_type: 'password', username });
    t.equal(res.statusCode, 400);
    t.equal(res.body_.error, 'invalid_request');
  });

  t.test('a client not registered for the password grant is unauthorized_client', async (t) => {
    const other = await registerClient(tessera);
    const res = await tokenRequest(app, other, { grant_type: 'password', username, password });
    t.equal(res.statusCode, 400);
    t.equal(res.body_.error, 'unauthorized_client');
  });

  t.test('a public client signs in with its client_id alone', async (t) => {
    const pub = await registerClient(tessera, { public: true, grants: ['password'], scopes: ['profile'] });
    t.equal(pub.secret, undefined);
    const res = await tokenRequest(app, pub, { grant_type: 'password', username, password });
    t.equal(res.statusCode, 200);
    t.ok(res.body_.refresh_token);
    const withSecret = await post(app, '/token', {
      grant_type: 'password',
      username,
      password,
      client_id: pub.id,
      client_secret: 'made-up',
    });
    t.equal(withSecret.statusCode, 401, 'a public client presenting a secret is not authenticated');
  });

  t.test('a public client cannot use client_credentials', async (t) => {
    const pub = await registerClient(tessera, { public: true, grants: ['password'] });
    const res = await post(app, '/token', { grant_type: 'client_credentials', client_id: pub.id });
    t.equal(res.statusCode, 401);
    t.equal(res.body_.error, 'invalid_client');
  });
});

t.test('refresh_token grant and rotation', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const client = await registerClient(tessera, { grants: ['password'], scopes: ['a', 'b'] });
  const login = async () => (await tokenRequest(app, client, { grant_type: 'password', username, password })).body_;

  t.test('each refresh returns a new refresh token and consumes the old one', async (t) => {
    const first = await login();
    const second = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token as string });
    t.equal(second.statusCode, 200);
    t.not(second.body_.refresh_token, first.refresh_token);
    t.equal(second.body_.scope, 'a b');
    const third = await post(
      app,
      '/token/refresh',
      { refresh_token: second.body_.refresh_token as string },
      { headers: { authorization: basic(client.id, client.secret!) } },
    );
    t.equal(third.statusCode, 200, '/token/refresh answers like /token');
    t.ok(third.body_.refresh_token);
  });

  t.test('reusing a consumed refresh token revokes the whole family', async (t) => {
    const first = await login();
    const second = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token as string });
    t.equal(second.statusCode, 200);
    const reuse = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token as string });
    t.equal(reuse.statusCode, 400);
    t.equal(reuse.body_.error, 'invalid_grant');
    const descendant = await tokenRequest(app, client, {
      grant_type: 'refresh_token',
      refresh_token: second.body_.refresh_token as string,
    });
    t.equal(descendant.body_.error, 'invalid_grant', 'the newer refresh token of the family is revoked too');
    const verify = await post(app, '/token/verify', { token: second.body_.access_token as string });
    t.equal(verify.statusCode, 401, 'and so is the access token issued from it');
  });

  t.test('a refresh may narrow the scope; the refresh token keeps the original', async (t) => {
    const first = await login();
    const narrowed = await tokenRequest(app, client, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
      scope: 'a',
    });
    t.equal(narrowed.body_.scope, 'a');
    const widened = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: narrowed.body_.refresh_token as string });
    t.equal(widened.body_.scope, 'a b', 'the next refresh grants the original scope again');
    const beyond = await tokenRequest(app, client, {
      grant_type: 'refresh_token',
      refresh_token: widened.body_.refresh_token as string,
      scope: 'a c',
    });
    t.equal(beyond.statusCode, 400);
    t.equal(beyond.body_.error, 'invalid_scope');
  });

  t.test("another client's refresh token is invalid_grant and changes nothing", async (t) => {
    const first = await login();
    const other = await registerClient(tessera, { grants: ['password'] });
    const stolen = await tokenRequest(app, other, { grant_type: 'refresh_token', refresh_token: first.refresh_token as string });
    t.equal(stolen.statusCode, 400);
    t.equal(stolen.body_.error, 'invalid_grant');
    const owner = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token as string });
    t.equal(owner.statusCode, 200, 'the owner can still use it');
  });

  t.test('unknown, malformed and missing refresh tokens', async (t) => {
    const unknown = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: `tsr_${'A'.repeat(43)}` });
    t.equal(unknown.body_.error, 'invalid_grant');
    const garbage = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: 'garbage' });
    t.equal(garbage.body_.error, 'invalid_grant');
    const missing = await tokenRequest(app, client, { grant_type: 'refresh_token' });
    t.equal(missing.body_.error, 'invalid_request');
  });

  t.test('of 20 concurrent refreshes with one token, exactly one succeeds', async (t) => {
    const first = await login();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token as string }),
      ),
    );
    const ok = results.filter((r) => r.statusCode === 200);
    t.equal(ok.length, 1, 'one success');
    t.ok(
      results.filter((r) => r.statusCode !== 200).every((r) => r.body_.error === 'invalid_grant'),
      'the rest invalid_grant',
    );
  });

  t.test('JWT access tokens from a refresh carry the grant, and die with it', async (t) => {
    const jwtClient = await registerClient(tessera, { grants: ['password'], tokenFormat: 'jwt' });
    const first = (await tokenRequest(app, jwtClient, { grant_type: 'password', username, password })).body_;
    t.ok(decodeJwt(first.access_token as string).sid, 'sid names the grant');
    t.equal((await post(app, '/token/verify', { token: first.access_token as string })).statusCode, 200);
    const revoke = await post(
      app,
      '/revoke',
      { token: first.refresh_token as string },
      { headers: { authorization: basic(jwtClient.id, jwtClient.secret!) } },
    );
    t.equal(revoke.statusCode, 200);
    t.equal((await post(app, '/token/verify', { token: first.access_token as string })).statusCode, 401);
  });
});

t.test('grant types and §5.2 errors', async (t) => {
  const { app, tessera } = await startTessera(t);
  const client = await registerClient(tessera);
  const unsupported = await tokenRequest(app, client, { grant_type: 'urn:example:magic' });
  t.equal(unsupported.statusCode, 400);
  t.equal(unsupported.body_.error, 'unsupported_grant_type');
  const missing = await tokenRequest(app, client, {});
  t.equal(missing.statusCode, 400);
  t.equal(missing.body_.error, 'invalid_request');
  const notRegistered = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: 'x' });
  t.equal(notRegistered.body_.error, 'unauthorized_client');
  t.equal(notRegistered.headers['cache-control'], 'no-store', 'errors are not cached either');
});
