// @tessera/verify against a real Tessera listening on a port: JWTs verified locally, opaque tokens
// introspected, audiences, scopes, every way a token can be bad, key rotation, the error shape, the
// Fastify plugin and the Express middleware, and close() letting the process exit.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { decodeJwt, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { createVerifier, expressTessera, fastifyTessera, hasScopes, TokenError, type Auth, type Verifier } from '@tessera/verify';
import { registerClient, registerUser, tokenRequest } from './helpers/harness.ts';
import { accessToken, listeningTessera, rejection, verifierFor, within, type Listening } from './helpers/verify-kit.ts';

const API = 'https://api.example.com';

/** The TokenError `promise` rejects with; fails the test if it is something else. */
async function refusal(t: Test, promise: Promise<unknown>, code: string, description?: RegExp): Promise<TokenError | undefined> {
  const error = await rejection(promise);
  if (!(error instanceof TokenError)) {
    t.fail(`expected a TokenError ${code}, got ${String(error)}`);
    return undefined;
  }
  t.equal(error.code, code, `${code}: ${error.message}`);
  if (description) t.match(error.message, description);
  return error;
}

t.test('@tessera/verify against a real Tessera', async (t) => {
  const server = await listeningTessera(t);
  const { issuer, tessera } = server;
  const jwtClient = await registerClient(tessera, { tokenFormat: 'jwt', scopes: ['read', 'write'], audience: API });
  const opaqueClient = await registerClient(tessera, { scopes: ['read', 'write'], audience: API });
  const resourceServer = await registerClient(tessera, { introspect: true });
  const introspection = { clientId: resourceServer.id, clientSecret: resourceServer.secret! };
  const verifier = verifierFor(t, { issuer, audience: API, introspection });

  /** A JWT signed with the server's own current key, with these claims changed. */
  const signedByServer = (changes: JWTPayload, header: { typ?: string; kid?: string } = {}) => {
    const { kid, key } = tessera.keys.signingKey();
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuer,
      sub: jwtClient.id,
      aud: API,
      client_id: jwtClient.id,
      scope: 'read',
      iat: now,
      exp: now + 300,
      jti: randomUUID(),
    };
    return new SignJWT({ ...claims, ...changes }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid, ...header }).sign(key);
  };

  t.test('a JWT: verified against the published keys, then answered from memory', async (t) => {
    const token = await accessToken(server, jwtClient, 'read');
    const auth = await verifier.verify(token);
    const claims = decodeJwt(token);
    t.same(
      { ...auth, claims: undefined },
      { sub: jwtClient.id, client_id: jwtClient.id, scope: ['read'], aud: API, exp: claims.exp, token_type: 'Bearer', claims: undefined },
    );
    t.same(auth.claims, claims, 'every claim of the token');
    t.ok(Object.isFrozen(auth) && Object.isFrozen(auth.scope), 'the answer cannot be changed by one caller for the others');
    t.equal(await verifier.verify(token), auth, 'the same answer again, from the cache');
    t.equal((await verifier.verify(token, { scopes: ['read'] })).sub, jwtClient.id, 'a scope it has');
  });

  t.test('an opaque token: introspected with the client credentials, then answered from memory', async (t) => {
    const token = await accessToken(server, opaqueClient);
    t.match(token, /^tsa_/);
    const auth = await verifier.verify(token);
    t.match(auth, { sub: opaqueClient.id, client_id: opaqueClient.id, scope: ['read', 'write'], aud: API, token_type: 'Bearer' });
    t.match(auth.claims, { active: true, iss: issuer, jti: String });
    t.equal(await verifier.verify(token), auth, 'the same answer again, from the cache');

    const [first, second] = await Promise.all([verifier.verify(await accessToken(server, opaqueClient)), verifier.verify(token)]);
    t.equal(second, auth);
    t.equal(first.sub, opaqueClient.id);

    const noIntrospection = verifierFor(t, { issuer });
    await refusal(t, noIntrospection.verify(token), 'invalid_token', /introspection credentials/);
    const wrongSecret = verifierFor(t, { issuer, introspection: { clientId: resourceServer.id, clientSecret: 'not-the-secret' } });
    const error = await rejection(wrongSecret.verify(await accessToken(server, opaqueClient)));
    t.notOk(error instanceof TokenError, 'refused credentials are not the token’s fault');
    t.match(error, { message: /401: the introspection credentials were refused/ });
  });

  t.test('audience: a token for another audience is refused, JWT and opaque alike', async (t) => {
    const otherApi = verifierFor(t, { issuer, audience: 'https://other.example.com', introspection });
    await refusal(t, otherApi.verify(await accessToken(server, jwtClient)), 'invalid_token', /aud/);
    await refusal(t, otherApi.verify(await accessToken(server, opaqueClient)), 'invalid_token', /audience/);
    const anyAudience = verifierFor(t, { issuer, introspection });
    t.equal((await anyAudience.verify(await accessToken(server, jwtClient))).aud, API, 'without `audience`, any audience');
    const listed = await signedByServer({ aud: ['https://other.example.com', API] });
    t.same((await verifier.verify(listed)).aud, ['https://other.example.com', API], 'an aud list containing it');
  });

  t.test('scopes: insufficient_scope, 403, and the scopes asked for in the challenge', async (t) => {
    for (const token of [await accessToken(server, jwtClient, 'read'), await accessToken(server, opaqueClient, 'read')]) {
      const error = await refusal(t, verifier.verify(token, { scopes: ['write'] }), 'insufficient_scope');
      t.equal(error?.status, 403);
      t.equal(
        error?.wwwAuthenticate,
        'Bearer error="insufficient_scope", error_description="The token lacks a scope this resource needs", scope="write"',
      );
      t.same(error?.scope, ['write']);
      const auth = await verifier.verify(token);
      t.ok(hasScopes(auth, ['read']));
      t.notOk(hasScopes(auth, ['read', 'write']));
      t.ok(hasScopes(auth, []));
    }
  });

  t.test('bad tokens are invalid_token, 401', async (t) => {
    const good = await accessToken(server, jwtClient);
    const [header, payload, signature] = good.split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...decodeJwt(good), scope: 'read write admin' })).toString('base64url')}.${signature}`;
    const foreign = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const foreignClaims = { iss: issuer, sub: 'x', aud: API, client_id: 'x', iat: now, exp: now + 300, jti: randomUUID() };
    const foreignKeySameKid = await new SignJWT(foreignClaims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: tessera.keys.signingKey().kid })
      .sign(foreign.privateKey);
    const foreignKid = await new SignJWT(foreignClaims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'not-a-key-of-the-server' })
      .sign(foreign.privateKey);
    const hmac = await new SignJWT(foreignClaims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(new Uint8Array(32));
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
    const { username, password } = await registerUser(tessera);
    const passwordClient = await registerClient(tessera, { grants: ['password'] });
    const refreshToken = (await tokenRequest(server.app, passwordClient, { grant_type: 'password', username, password })).body_
      .refresh_token as string;
    const cases: [string, Promise<string> | string, RegExp][] = [
      ['expired', signedByServer({ exp: now - 10, iat: now - 310 }), /expired/],
      ['tampered', tampered, /signature/],
      ['signed by a foreign key under the server’s kid', foreignKeySameKid, /signature/],
      ['signed by a key the server does not publish', foreignKid, /not signed by a key of the issuer/],
      ['HS256', hmac, /algorithm/],
      ['alg none', unsigned, /algorithm|malformed/],
      ['another issuer', signedByServer({ iss: 'https://evil.example.com' }), /iss/],
      ['typ JWT, not an access token', signedByServer({}, { typ: 'JWT' }), /typ/],
      ['no kid: the server names the key of every token', signedByServer({}, { kid: undefined }), /does not name its signing key/],
      ['no client_id', signedByServer({ client_id: undefined }), /client_id/],
      ['not yet valid', signedByServer({ nbf: now + 3600 }), /nbf/],
      ['garbage', 'not a token at all', /malformed/],
      ['a refresh token', refreshToken, /malformed/],
      ['an unknown opaque token', `tsa_${'A'.repeat(43)}`, /not active/],
      ['too long', 'a'.repeat(10_000), /malformed/],
    ];
    for (const [what, token, description] of cases) {
      t.test(what, async (t) => {
        const error = await refusal(t, verifier.verify(await token), 'invalid_token', description);
        t.equal(error?.status, 401);
        t.match(error?.wwwAuthenticate, /^Bearer error="invalid_token", error_description="[^"]+"$/);
      });
    }
  });

  t.test('a cached token is not answered past its expiry', async (t) => {
    const shortLived = await signedByServer({ exp: Math.floor(Date.now() / 1000) + 1 });
    t.ok(await verifier.verify(shortLived));
    t.ok(
      await within(3000, async () => (await rejection(verifier.verify(shortLived))) instanceof TokenError),
      'refused once expired, within 3 s',
    );
  });

  t.test('the cache is bounded: the least recently used answers are forgotten first', async (t) => {
    const small = verifierFor(t, { issuer, cacheSize: 4 });
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => accessToken(server, jwtClient)));
    const first = { a: await small.verify(a!), b: await small.verify(b!) };
    await small.verify(c!);
    t.equal(await small.verify(a!), first.a, 'a token used again is still remembered');
    await small.verify(await accessToken(server, jwtClient));
    t.not(await small.verify(b!), first.b, 'the least recently used one was forgotten: verified anew');
    t.equal((await small.verify(b!)).sub, jwtClient.id);
  });

  t.test('no token: invalid_request, 401, a bare Bearer challenge (with the realm when one is set)', async (t) => {
    const error = await refusal(t, verifier.verify(undefined), 'invalid_request');
    t.equal(error?.status, 401);
    t.equal(error?.wwwAuthenticate, 'Bearer');
    t.same(error?.body, { error: 'invalid_request', error_description: 'No access token' });
    const withRealm = verifierFor(t, { issuer, realm: 'notes' });
    t.equal((await refusal(t, withRealm.verify(null), 'invalid_request'))?.wwwAuthenticate, 'Bearer realm="notes"');
    const invalid = await refusal(t, withRealm.verify('x.y.z'), 'invalid_token');
    t.equal(invalid?.wwwAuthenticate, 'Bearer realm="notes", error="invalid_token", error_description="The token is malformed"');
    t.ok(invalid instanceof Error && invalid.name === 'TokenError');
  });

  t.test('key rotation: a token of the new key verifies within a few seconds, the old key’s still does', async (t) => {
    const old = await accessToken(server, jwtClient);
    await verifier.verify(old);
    await tessera.rotateKeys();
    const fresh = await accessToken(server, jwtClient);
    t.not(decodeJwt(fresh).jti, decodeJwt(old).jti);
    const freshKid = JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()) as { kid: string };
    t.not(freshKid.kid, JSON.parse(Buffer.from(old.split('.')[0]!, 'base64url').toString()).kid, 'a new kid');
    t.ok(
      await within(10_000, async () => !((await rejection(verifier.verify(fresh))) instanceof Error)),
      'the new key is fetched (at most once every few seconds)',
    );
    t.equal((await verifier.verify(old)).sub, jwtClient.id);
  });

  t.test('the server cannot be reached or is not the issuer: an Error, not a TokenError', async (t) => {
    const token = await accessToken(server, jwtClient);
    const wrongIssuer = verifierFor(t, { issuer: issuer.replace('127.0.0.1', 'localhost') });
    const mismatch = await rejection(wrongIssuer.verify(token));
    t.notOk(mismatch instanceof TokenError);
    t.match(mismatch, { message: /names the issuer/ });
    const nowhere = verifierFor(t, { issuer: 'http://127.0.0.1:9' });
    const unreachable = await rejection(nowhere.verify(token));
    t.ok(unreachable instanceof Error && !(unreachable instanceof TokenError));
  });

  t.test('the Fastify plugin', async (t) => fastifyChecks(t, server, verifier, jwtClient, opaqueClient));
  t.test('the Express middleware', async (t) => expressChecks(t, server, verifier, jwtClient));

  t.test('close() ends the stream and every timer: the process exits', async (t) => {
    const token = await accessToken(server, jwtClient);
    const opaque = await accessToken(server, opaqueClient);
    const script = `
      import { createVerifier } from '@tessera/verify';
      const verifier = createVerifier(JSON.parse(process.env.OPTIONS));
      const [a, b] = await Promise.all([verifier.verify(process.env.JWT), verifier.verify(process.env.OPAQUE)]);
      verifier.close();
      console.log(a.sub, b.sub);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, OPTIONS: JSON.stringify({ issuer, audience: API, introspection }), JWT: token, OPAQUE: opaque },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await exited;
    clearTimeout(timer);
    t.equal(code, 0, 'exited by itself after close()');
    t.equal(out.trim(), `${jwtClient.id} ${opaqueClient.id}`);
  });

  t.test('options that cannot work throw at once; verify() after close() throws', async (t) => {
    t.throws(() => createVerifier({ issuer: 'auth.example.com' }), TypeError);
    t.throws(() => createVerifier({ issuer, cacheSize: 0 }), TypeError);
    t.throws(() => createVerifier({ issuer, introspection: { clientId: 'x', clientSecret: '' } }), /clientSecret/);
    t.throws(() => createVerifier({ issuer, introspection: { clientId: '', clientSecret: 's' } }), /clientId/);
    const closed = createVerifier({ issuer });
    closed.close();
    closed.close();
    t.match(await rejection(closed.verify('x')), { message: /closed/ });
  });
});

/** request.auth, which the plugin and the middleware set (the kit declares no framework's types). */
const authOf = (request: object) => (request as { auth?: Auth | null }).auth;

async function fastifyChecks(t: Test, server: Listening, verifier: Verifier, jwtClient: Client, opaqueClient: Client) {
  const app = Fastify();
  t.teardown(() => app.close());
  await app.register(fastifyTessera, { verifier });
  app.get('/public', { config: { public: true } }, async (request) => ({ public: true, auth: authOf(request) }));
  app.get('/me', async (request) => ({ sub: authOf(request)?.sub }));
  // Registered at the root, the plugin serves routes of child contexts as well.
  await app.register(async (child) => {
    child.post('/notes', { config: { scopes: ['write'] } }, async (request) => ({ written: true, sub: authOf(request)?.sub }));
  });
  const get = (url: string, token?: string, method: 'GET' | 'POST' = 'GET') =>
    app.inject({ method, url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const read = await accessToken(server, jwtClient, 'read');
  const write = await accessToken(server, opaqueClient, 'write');

  const open = await get('/public');
  t.equal(open.statusCode, 200, 'a public route needs no token');
  t.same(open.json(), { public: true, auth: null });

  const none = await get('/me');
  t.equal(none.statusCode, 401);
  t.equal(none.headers['www-authenticate'], 'Bearer');
  t.same(none.json(), { error: 'invalid_request', error_description: 'No access token' });

  const bad = await get('/me', 'x.y.z');
  t.equal(bad.statusCode, 401);
  t.match(bad.headers['www-authenticate'], /^Bearer error="invalid_token", error_description="/);
  t.same(bad.json(), { error: 'invalid_token', error_description: 'The token is malformed' });
  const basic = await app.inject({ method: 'GET', url: '/me', headers: { authorization: 'Basic dXNlcjpwYXNz' } });
  t.equal(basic.statusCode, 401, 'another scheme is no bearer token');
  t.equal(basic.json().error, 'invalid_request');

  const me = await get('/me', read);
  t.equal(me.statusCode, 200);
  t.same(me.json(), { sub: jwtClient.id });

  const forbidden = await get('/notes', read, 'POST');
  t.equal(forbidden.statusCode, 403);
  t.match(forbidden.headers['www-authenticate'], /^Bearer error="insufficient_scope", .*scope="write"$/);
  t.same(forbidden.json(), { error: 'insufficient_scope', error_description: 'The token lacks a scope this resource needs' });

  const written = await get('/notes', write, 'POST');
  t.equal(written.statusCode, 200);
  t.same(written.json(), { written: true, sub: opaqueClient.id });
}

async function expressChecks(t: Test, server: Listening, verifier: Verifier, jwtClient: Client) {
  const app = express();
  app.get('/public', (_req, res) => {
    res.json({ public: true });
  });
  app.use(expressTessera({ verifier }));
  app.get('/me', (req, res) => {
    res.json({ sub: authOf(req)?.sub });
  });
  app.post('/notes', expressTessera({ verifier, scopes: ['write'] }), (req, res) => {
    res.json({ written: true, sub: authOf(req)?.sub });
  });
  const listener = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => listener.once('listening', resolve));
  t.teardown(() => new Promise((resolve) => listener.close(resolve)));
  const base = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  const call = (path: string, token?: string, method = 'GET') =>
    fetch(`${base}${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const read = await accessToken(server, jwtClient, 'read');
  const write = await accessToken(server, jwtClient, 'read write');

  t.equal((await call('/public')).status, 200);
  const none = await call('/me');
  t.equal(none.status, 401);
  t.equal(none.headers.get('www-authenticate'), 'Bearer');
  t.match(none.headers.get('content-type'), /^application\/json/);
  t.same(await none.json(), { error: 'invalid_request', error_description: 'No access token' });

  const bad = await call('/me', `${read}x`);
  t.equal(bad.status, 401);
  t.match(bad.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
  t.equal(((await bad.json()) as { error: string }).error, 'invalid_token');

  const me = await call('/me', read);
  t.equal(me.status, 200);
  t.same(await me.json(), { sub: jwtClient.id });

  const forbidden = await call('/notes', read, 'POST');
  t.equal(forbidden.status, 403);
  t.match(forbidden.headers.get('www-authenticate'), /error="insufficient_scope".*scope="write"/);
  t.equal(((await forbidden.json()) as { error: string }).error, 'insufficient_scope');

  const written = await call('/notes', write, 'POST');
  t.equal(written.status, 200);
  t.same(await written.json(), { written: true, sub: jwtClient.id });
}

type Client = { id: string; secret?: string | undefined };
