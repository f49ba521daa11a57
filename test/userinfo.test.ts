// GET and POST /userinfo (OpenID Connect Core §5.3): the claims a user's access token with the
// scope openid may read, by scope; every refusal with its RFC 6750 §3 challenge.
import t, { type Test } from 'tap';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { ISSUER, basic, post, registerClient, startTessera, tokenRequest } from './helpers/harness.ts';

const PASSWORD = 'correct horse battery';
const SCOPES = ['openid', 'profile', 'email', 'read'];

const userinfo = (app: FastifyInstance, token: string, method: 'GET' | 'POST' = 'GET') =>
  app.inject({ method, url: '/userinfo', headers: { authorization: `Bearer ${token}` } });

function json(res: LightMyRequestResponse): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>;
}

/** A refusal: its status, its RFC 6750 challenge, the JSON error body, and never cacheable. */
function refused(t: Test, res: LightMyRequestResponse, status: number, challenge: RegExp, error: string, what: string) {
  t.equal(res.statusCode, status, `${what}: ${status}`);
  t.match(res.headers['www-authenticate'], challenge, `${what}: the challenge`);
  t.match(json(res), { error, error_description: String }, `${what}: ${error}`);
  t.equal(res.headers['cache-control'], 'no-store', `${what}: no-store`);
}

t.test('/userinfo', async (t) => {
  const { app, tessera } = await startTessera(t);
  const full = await tessera.users.create('alice', 'alice@example.com', PASSWORD, {
    name: 'Alice Liddell',
    roles: ['admin', 'editor'],
    groups: ['staff'],
  });
  const bare = await tessera.users.create('bob', undefined, PASSWORD);
  const opaque = await registerClient(tessera, { grants: ['password', 'client_credentials'], scopes: SCOPES });
  const jwt = await registerClient(tessera, { grants: ['password'], scopes: SCOPES, tokenFormat: 'jwt' });
  const tokenFor = async (client: { id: string; secret?: string }, username: string, scope: string) => {
    const res = await tokenRequest(app, client, { grant_type: 'password', username, password: PASSWORD, scope });
    if (res.statusCode !== 200) throw new Error(`token request: ${res.statusCode} ${res.body}`);
    return res.body_ as { access_token: string; refresh_token: string };
  };

  t.test('claims by scope', async (t) => {
    const only = await userinfo(app, (await tokenFor(opaque, 'alice', 'openid')).access_token);
    t.equal(only.statusCode, 200, only.body);
    t.match(only.headers['content-type'], /^application\/json/);
    t.equal(only.headers['cache-control'], 'no-store', 'personal data: no-store, on GET too');
    t.same(json(only), { sub: full.id, roles: ['admin', 'editor'], groups: ['staff'] }, 'openid: sub, roles and groups');

    const profile = await userinfo(app, (await tokenFor(opaque, 'alice', 'openid profile')).access_token);
    t.same(json(profile), {
      sub: full.id,
      preferred_username: 'alice',
      name: 'Alice Liddell',
      roles: ['admin', 'editor'],
      groups: ['staff'],
    });

    const emailToken = (await tokenFor(opaque, 'alice', 'openid email')).access_token;
    t.same(json(await userinfo(app, emailToken)), {
      sub: full.id,
      email: 'alice@example.com',
      email_verified: false,
      roles: ['admin', 'editor'],
      groups: ['staff'],
    });
    await tessera.users.update('alice', { emailVerified: true, roles: ['editor'], groups: [] });
    t.same(
      json(await userinfo(app, emailToken)),
      { sub: full.id, email: 'alice@example.com', email_verified: true, roles: ['editor'] },
      'the user as they are now: verified, one role, no groups (an empty list is left out)',
    );

    const bareAll = await userinfo(app, (await tokenFor(opaque, 'bob', 'openid profile email')).access_token);
    t.same(
      json(bareAll),
      { sub: bare.id, preferred_username: 'bob' },
      'no name, no email, no roles: none of them, not even email_verified',
    );
  });

  t.test('GET and POST, header or form body; opaque and JWT tokens', async (t) => {
    const jwtToken = (await tokenFor(jwt, 'bob', 'openid profile')).access_token;
    t.equal(jwtToken.split('.').length, 3, 'a JWT');
    const expected = { sub: bare.id, preferred_username: 'bob' };
    t.same(json(await userinfo(app, jwtToken)), expected, 'GET with a JWT');
    t.same(json(await userinfo(app, jwtToken, 'POST')), expected, 'POST with the header');
    const form = await post(app, '/userinfo', { access_token: jwtToken });
    t.equal(form.statusCode, 200, form.body);
    t.same(form.body_, expected, 'POST with access_token in the form body (RFC 6750 §2.2)');
    t.equal(form.headers['cache-control'], 'no-store');
  });

  t.test('no token: 401 with a bare Bearer challenge', async (t) => {
    for (const method of ['GET', 'POST'] as const) {
      const res = await app.inject({ method, url: '/userinfo' });
      refused(t, res, 401, /^Bearer$/, 'invalid_request', `${method} without a token`);
    }
    refused(
      t,
      await app.inject({ method: 'GET', url: '/userinfo', headers: { authorization: basic(opaque.id, opaque.secret!) } }),
      401,
      /^Bearer$/,
      'invalid_request',
      'Basic credentials are no token',
    );
  });

  t.test('a bad token: 401 invalid_token', async (t) => {
    const invalid = /^Bearer error="invalid_token", error_description="[^"]+"$/;
    const good = await tokenFor(opaque, 'alice', 'openid');
    const now = Math.floor(Date.now() / 1000);
    const { kid, key } = tessera.keys.signingKey();
    const expired = await new SignJWT({
      iss: ISSUER,
      sub: full.id,
      aud: ISSUER,
      client_id: jwt.id,
      scope: 'openid',
      jti: 'j',
      iat: now - 600,
      exp: now - 300,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .sign(key);
    const cases: Record<string, string> = {
      unknown: `tsa_${'A'.repeat(43)}`,
      expired,
      'a refresh token': good.refresh_token,
      garbage: 'not-a-token',
    };
    for (const [name, token] of Object.entries(cases)) refused(t, await userinfo(app, token), 401, invalid, 'invalid_token', name);
    refused(
      t,
      await app.inject({ method: 'GET', url: '/userinfo', headers: { authorization: 'Bearer two tokens' } }),
      401,
      invalid,
      'invalid_token',
      'a malformed Bearer header',
    );
    refused(t, await post(app, '/userinfo', { access_token: 'tsa_nope' }), 401, invalid, 'invalid_token', 'a bad token in the body');

    const revoked = await tokenFor(opaque, 'alice', 'openid');
    t.equal((await userinfo(app, revoked.access_token)).statusCode, 200);
    await post(app, '/revoke', { token: revoked.access_token }, { headers: { authorization: basic(opaque.id, opaque.secret!) } });
    refused(t, await userinfo(app, revoked.access_token), 401, invalid, 'invalid_token', 'revoked');

    const clientOwn = await tokenRequest(app, opaque, { grant_type: 'client_credentials', scope: 'openid profile' });
    refused(
      t,
      await userinfo(app, clientOwn.body_.access_token as string),
      401,
      invalid,
      'invalid_token',
      "a client's own token (no user)",
    );

    const gone = await tokenFor(jwt, 'bob', 'openid');
    await tessera.users.update('bob', { active: false });
    refused(t, await userinfo(app, gone.access_token), 401, invalid, 'invalid_token', 'an inactive user');
    await tessera.users.update('bob', { active: true });
  });

  t.test('no openid scope: 403 insufficient_scope', async (t) => {
    const res = await userinfo(app, (await tokenFor(opaque, 'alice', 'profile email read')).access_token);
    refused(
      t,
      res,
      403,
      /^Bearer error="insufficient_scope", scope="openid", error_description="[^"]+"$/,
      'insufficient_scope',
      'no openid',
    );
    t.notOk('sub' in json(res), 'nothing about the user');
  });

  t.test('the token sent twice, or in the URL, or a body that cannot be read: 400', async (t) => {
    const token = (await tokenFor(opaque, 'alice', 'openid')).access_token;
    const twice = await post(app, '/userinfo', { access_token: token }, { headers: { authorization: `Bearer ${token}` } });
    refused(t, twice, 400, /^Bearer error="invalid_request"/, 'invalid_request', 'header and body');
    for (const method of ['GET', 'POST'] as const) {
      const inQuery = await app.inject({ method, url: `/userinfo?access_token=${token}` });
      refused(t, inQuery, 400, /^Bearer error="invalid_request"/, 'invalid_request', `${method} with the token in the query`);
      const alongside = await app.inject({ method, url: `/userinfo?access_token=${token}`, headers: { authorization: `Bearer ${token}` } });
      t.equal(alongside.statusCode, 400, `${method}: a token in the URL is refused even beside a good header`);
    }
    const broken = await app.inject({
      method: 'POST',
      url: '/userinfo',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token}` },
      payload: 'access_token=%E0%A4%A',
    });
    t.equal(broken.statusCode, 400, 'malformed percent-encoding');
    t.equal(json(broken).error, 'invalid_request');
    const repeated = await app.inject({
      method: 'POST',
      url: '/userinfo',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `access_token=${token}&access_token=${token}`,
    });
    t.equal(repeated.statusCode, 400, 'a repeated parameter');
    const nul = await app.inject({ method: 'GET', url: '/userinfo?x=%00', headers: { authorization: `Bearer ${token}` } });
    t.equal(nul.statusCode, 400, 'a NUL in the query');
  });

  t.test('documented in /openapi.json', async (t) => {
    const doc = json(await app.inject({ method: 'GET', url: '/openapi.json' })) as { paths: Record<string, Record<string, unknown>> };
    t.ok(doc.paths['/userinfo']?.get, 'GET /userinfo');
    t.ok(doc.paths['/userinfo']?.post, 'POST /userinfo');
  });
});
