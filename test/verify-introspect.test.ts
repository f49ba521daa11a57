// /token/verify and /introspect: opaque and JWT access tokens, refresh tokens, and every way a
// token can be bad.
import t from 'tap';
import { SignJWT, createLocalJWKSet, generateKeyPair, jwtVerify, decodeJwt } from 'jose';
import { basic, ISSUER, post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';

t.test('verify and introspect', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const opaque = await registerClient(tessera, { grants: ['password', 'client_credentials'], scopes: ['read', 'write'] });
  const jwt = await registerClient(tessera, { grants: ['password', 'client_credentials'], scopes: ['read'], tokenFormat: 'jwt' });
  const introspector = await registerClient(tessera, { introspect: true });
  const outsider = await registerClient(tessera);
  const asClient = (c: { id: string; secret?: string }) => ({ headers: { authorization: basic(c.id, c.secret!) } });
  const passwordLogin = async (c: typeof opaque) =>
    (await tokenRequest(app, c, { grant_type: 'password', username, password, scope: 'read' })).body_;

  t.test('opaque access token', async (t) => {
    const tokens = await passwordLogin(opaque);
    const verify = await post(app, '/token/verify', { token: tokens.access_token as string });
    t.equal(verify.statusCode, 200);
    t.match(verify.body_, { active: true, sub: String, client_id: opaque.id, scope: 'read', exp: Number, token_type: 'Bearer' });
    const bearer = await app.inject({ method: 'POST', url: '/token/verify', headers: { authorization: `Bearer ${tokens.access_token}` } });
    t.equal(bearer.statusCode, 200, 'the token may come as a Bearer header');
    const intro = await post(app, '/introspect', { token: tokens.access_token as string }, asClient(introspector));
    t.match(intro.body_, {
      active: true,
      scope: 'read',
      client_id: opaque.id,
      username,
      token_type: 'Bearer',
      exp: Number,
      iat: Number,
      sub: verify.body_.sub,
      aud: ISSUER,
      iss: ISSUER,
      jti: String,
    });
  });

  t.test('JWT access token', async (t) => {
    const tokens = await passwordLogin(jwt);
    const verify = await post(app, '/token/verify', { token: tokens.access_token as string });
    t.equal(verify.statusCode, 200);
    t.equal(verify.body_.client_id, jwt.id);
    const intro = await post(
      app,
      '/introspect',
      { token: tokens.access_token as string, token_type_hint: 'access_token' },
      asClient(introspector),
    );
    t.match(intro.body_, { active: true, username, jti: decodeJwt(tokens.access_token as string).jti });
    // Any party verifies it with the served keys.
    const jwks = JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body);
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token as string, createLocalJWKSet(jwks), {
      issuer: ISSUER,
      typ: 'at+jwt',
    });
    t.equal(protectedHeader.alg, 'ES256');
    t.equal(payload.client_id, jwt.id);
  });

  t.test('refresh tokens at introspection', async (t) => {
    const tokens = await passwordLogin(opaque);
    const intro = await post(
      app,
      '/introspect',
      { token: tokens.refresh_token as string, token_type_hint: 'refresh_token' },
      asClient(introspector),
    );
    t.match(intro.body_, { active: true, token_type: 'refresh_token', client_id: opaque.id, username });
    const noHint = await post(app, '/introspect', { token: tokens.refresh_token as string }, asClient(introspector));
    t.equal(noHint.body_.active, true, 'the hint is not required');
    const wrongHint = await post(
      app,
      '/introspect',
      { token: tokens.access_token as string, token_type_hint: 'refresh_token' },
      asClient(introspector),
    );
    t.equal(wrongHint.body_.active, true, 'a wrong hint does not hide an active token');
    const verify = await post(app, '/token/verify', { token: tokens.refresh_token as string });
    t.equal(verify.statusCode, 401, 'a refresh token is not an access token');
  });

  t.test('who may introspect what', async (t) => {
    const tokens = await passwordLogin(opaque);
    const own = await post(app, '/introspect', { token: tokens.access_token as string }, asClient(opaque));
    t.equal(own.body_.active, true, 'a client introspects its own token');
    const other = await post(app, '/introspect', { token: tokens.access_token as string }, asClient(outsider));
    t.same(other.body_, { active: false }, "and learns nothing of another's");
    const none = await post(app, '/introspect', { token: tokens.access_token as string });
    t.equal(none.statusCode, 401);
    t.equal(none.body_.error, 'invalid_client');
    const wrongSecret = await post(
      app,
      '/introspect',
      { token: tokens.access_token as string },
      { headers: { authorization: basic(introspector.id, 'wrong') } },
    );
    t.equal(wrongSecret.statusCode, 401);
    t.match(wrongSecret.headers['www-authenticate'], /^Basic/);
    const pub = await registerClient(tessera, { public: true, grants: ['password'] });
    const publicCaller = await post(app, '/introspect', { token: tokens.access_token as string, client_id: pub.id });
    t.equal(publicCaller.statusCode, 401, 'public clients cannot introspect');
    const missing = await post(app, '/introspect', {}, asClient(introspector));
    t.equal(missing.statusCode, 400);
    t.equal(missing.body_.error, 'invalid_request');
  });

  t.test('no token at /token/verify is 401 invalid_request', async (t) => {
    const res = await post(app, '/token/verify', {});
    t.equal(res.statusCode, 401);
    t.equal(res.body_.error, 'invalid_request');
    t.match(res.headers['www-authenticate'], /^Bearer error="invalid_request"/);
  });

  t.test('bad tokens are simply invalid', async (t) => {
    const good = (await tokenRequest(app, jwt, { grant_type: 'client_credentials' })).body_.access_token as string;
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const claims = decodeJwt(good);
    const foreign = await generateKeyPair('ES256');
    const sign = (body: Record<string, unknown>, hdr: Record<string, unknown> = {}, key = foreign.privateKey) =>
      new SignJWT(body)
        .setProtectedHeader({
          alg: 'ES256',
          typ: 'at+jwt',
          kid: (JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string }).kid,
          ...hdr,
        })
        .sign(key);
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const bad: Record<string, string> = {
      malformed: 'not a token',
      truncated: good.slice(0, -10),
      'two parts': `${header}.${payload}`,
      'wrong prefix': `tsx_${'A'.repeat(43)}`,
      'right prefix, unknown': `tsa_${'A'.repeat(43)}`,
      'prefix, short': 'tsa_abc',
      'wrong signature': `${header}.${payload}.${signature.slice(0, -4)}AAAA`,
      'alg none': `${enc({ alg: 'none', typ: 'at+jwt' })}.${payload}.`,
      'alg none with kid': `${enc({ alg: 'none', typ: 'at+jwt', kid: 'x' })}.${payload}.`,
      'HS256 with the public key': `${enc({ alg: 'HS256', typ: 'at+jwt' })}.${payload}.${signature}`,
      'foreign key, our kid': await sign({ ...claims }),
      'wrong typ': await sign({ ...claims }, { typ: 'JWT' }),
      'tampered claims': `${header}.${enc({ ...claims, scope: 'admin' })}.${signature}`,
      huge: 'a'.repeat(4000),
    };
    for (const [name, token] of Object.entries(bad)) {
      const verify = await post(app, '/token/verify', { token });
      t.equal(verify.statusCode, 401, `${name}: 401 at verify`);
      t.equal(verify.body_.error, 'invalid_token', `${name}: invalid_token`);
      t.match(verify.headers['www-authenticate'], /^Bearer error="invalid_token"/);
      const intro = await post(app, '/introspect', { token }, asClient(introspector));
      t.same(intro.body_, { active: false }, `${name}: inactive at introspect`);
    }
  });

  t.test('claims that are wrong under our own key', async (t) => {
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: ISSUER, sub: jwt.id, aud: ISSUER, client_id: jwt.id, scope: 'read', iat: now, exp: now + 300, jti: 'x' };
    const { kid, key } = tessera.keys.signingKey();
    const sign = (claims: Record<string, unknown>, typ = 'at+jwt') =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ, kid }).sign(key);
    t.equal((await post(app, '/token/verify', { token: await sign(base) })).statusCode, 200, 'the control case is valid');
    const cases: Record<string, string> = {
      expired: await sign({ ...base, iat: now - 600, exp: now - 300 }),
      'not yet valid': await sign({ ...base, nbf: now + 3600 }),
      'wrong issuer': await sign({ ...base, iss: 'https://evil.example' }),
      'wrong typ': await sign(base, 'JWT'),
      'no client_id': await sign({ ...base, client_id: undefined }),
      'deleted client': await sign({ ...base, client_id: 'gone', sub: 'gone' }),
      'unknown user': await sign({ ...base, sub: '00000000-0000-0000-0000-000000000000' }),
    };
    for (const [name, token] of Object.entries(cases)) {
      t.equal((await post(app, '/token/verify', { token })).statusCode, 401, `${name}: invalid`);
      t.same((await post(app, '/introspect', { token }, asClient(introspector))).body_, { active: false }, `${name}: inactive`);
    }
  });
});
