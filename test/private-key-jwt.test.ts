// RFC 7523 private_key_jwt: clients registered with public keys (inline, or at a jwks_uri served
// here by a local HTTP server) authenticate with signed assertions at every endpoint that
// authenticates clients. Every refusal is 401 invalid_client saying why, never a 5xx; each
// assertion is accepted once, across instances; a failing jwks_uri fails fast and leaves nothing.
import t, { type Test } from 'tap';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import type { FastifyInstance } from 'fastify';
import { AdminError } from '../src/domain/errors.ts';
import { buildApp } from '../src/app.ts';
import { createLogger } from '../src/logger.ts';
import { Tessera } from '../src/tessera.ts';
import { cli, cliEnv, failsClearly } from './helpers/cli.ts';
import { basic, ISSUER, post, registerClient, registerUser, startTessera, testConfig, testDatabase } from './helpers/harness.ts';
import { freePort } from './helpers/server-process.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
type Alg = 'ES256' | 'RS256' | 'EdDSA';

interface Signer {
  alg: Alg;
  kid: string;
  privateKey: CryptoKey;
  /** The public key as registered. */
  jwk: JWK;
}

async function newSigner(alg: Alg, kid: string = randomUUID()): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid } };
}

const jwksOf = (...signers: Signer[]): JSONWebKeySet => ({ keys: signers.map((s) => s.jwk) });
const now = () => Math.floor(Date.now() / 1000);

/** A good assertion's claims for `clientId`; an override of `undefined` leaves the claim out. */
function claims(clientId: string, overrides: Record<string, unknown> = {}): JWTPayload {
  return { iss: clientId, sub: clientId, aud: ISSUER, iat: now(), exp: now() + 60, jti: randomUUID(), ...overrides };
}

function sign(signer: Signer, payload: JWTPayload, header: Partial<JWTHeaderParameters> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: signer.alg, kid: signer.kid, ...header }).sign(signer.privateKey);
}

const assertionForm = (assertion: string, extra: Record<string, string> = {}) => ({
  client_assertion_type: ASSERTION_TYPE,
  client_assertion: assertion,
  ...extra,
});

type Answer = Awaited<ReturnType<typeof post>>;

function refused(t: Test, res: Answer, description: RegExp, what: string) {
  t.equal(res.statusCode, 401, `${what}: 401 (${res.body})`);
  t.equal(res.body_.error, 'invalid_client', `${what}: invalid_client`);
  t.match(res.body_.error_description, description, `${what}: says why`);
}

/** A client_credentials request authenticated by `assertion`. */
const tokenWith = (app: FastifyInstance, assertion: string, extra: Record<string, string> = {}) =>
  post(app, '/token', { grant_type: 'client_credentials', ...assertionForm(assertion, extra) });

/** Registers a client with `signers`' public keys (or `registration.jwksUri`), allowed client_credentials and password. */
async function keyClient(tessera: Tessera, signers: Signer[], registration: { jwksUri?: string } = {}) {
  const jwks = registration.jwksUri === undefined ? JSON.stringify(jwksOf(...signers)) : undefined;
  const { client } = await tessera.clients.register({
    name: 'signed',
    grants: ['client_credentials', 'password'],
    scopes: ['read'],
    jwks,
    ...registration,
  });
  // The change feed brings the registration back to this instance as well (SQLite polls for it), and
  // a client change drops the client's fetched keys: let it pass before counting fetches.
  if (registration.jwksUri !== undefined) await new Promise((resolve) => setTimeout(resolve, 300));
  return client;
}

t.test('registration', async (t) => {
  const { tessera } = await startTessera(t);
  const es = await newSigner('ES256');
  const refusedRegistration = (what: string, registration: { jwks?: string; jwksUri?: string; public?: boolean }, message: RegExp) =>
    t.rejects(tessera.clients.register({ name: 'x', ...registration }), { constructor: AdminError, message }, what);
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const withKey = (key: Record<string, unknown>) => JSON.stringify({ keys: [key] });
  // jose refuses to make one: node:crypto does.
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
  const p384 = await exportJWK((await generateKeyPair('ES384')).publicKey);

  await refusedRegistration('a private key', { jwks: withKey(await exportJWK(privateKey)) }, /private key material \("d"\)/);
  await refusedRegistration('an HS key', { jwks: withKey({ kty: 'oct', k: 'c2VjcmV0' }) }, /a symmetric key \(kty "oct"\)/);
  await refusedRegistration('not JSON', { jwks: 'not json' }, /--jwks: the JWK Set is not JSON/);
  await refusedRegistration('not a set', { jwks: JSON.stringify(es.jwk) }, /\{"keys": \[\.\.\.\]\}/);
  await refusedRegistration('no keys', { jwks: '{"keys":[]}' }, /1 to 20 keys/);
  await refusedRegistration('21 keys', { jwks: JSON.stringify({ keys: Array(21).fill(es.jwk) }) }, /1 to 20 keys/);
  await refusedRegistration('over 64 KiB', { jwks: JSON.stringify({ keys: [{ ...es.jwk, x5u: 'x'.repeat(70_000) }] }) }, /64 KiB/);
  await refusedRegistration('RSA 1024', { jwks: withKey(rsa1024) }, /1024 bits; at least 2048/);
  await refusedRegistration('P-384', { jwks: withKey(p384) }, /crv "P-384" is not accepted/);
  await refusedRegistration('a key that is not one', { jwks: withKey({ ...es.jwk, x: 'AAAA' }) }, /not a valid EC public key/);
  await refusedRegistration('alg not fitting', { jwks: withKey({ ...es.jwk, alg: 'RS256' }) }, /alg "RS256" does not fit/);
  await refusedRegistration('an encryption key', { jwks: withKey({ ...es.jwk, use: 'enc' }) }, /use is "enc"/);
  await refusedRegistration('both', { jwks: JSON.stringify(jwksOf(es)), jwksUri: 'https://keys.example/jwks' }, /not both/);
  await refusedRegistration('public with keys', { jwks: JSON.stringify(jwksOf(es)), public: true }, /public client has no keys/);
  await refusedRegistration('plain http jwks_uri', { jwksUri: 'http://keys.example/jwks' }, /--jwks-uri: .*https/);
  await refusedRegistration('not a URL', { jwksUri: 'keys' }, /not an absolute URL/);
  t.equal((await tessera.clients.list()).length, 0, 'no refused registration registered anything');

  const { client, secret } = await tessera.clients.register({ name: 'signed', jwks: JSON.stringify(jwksOf(es)), introspect: true });
  t.equal(secret, null, 'a client with keys gets no secret');
  t.same(client.jwks, jwksOf(es));
  t.same((await tessera.clients.get(client.id)).jwks, jwksOf(es), 'the keys are stored');
  t.same(client.grants, ['client_credentials'], 'confidential: client_credentials by default');
  await t.rejects(tessera.clients.rotateSecret(client.id), { constructor: AdminError, message: /has keys, not a secret/ });
  const byUri = await tessera.clients.register({ name: 'by uri', jwksUri: 'https://keys.example/jwks.json' });
  t.equal(byUri.secret, null);
  t.equal(byUri.client.jwksUri, 'https://keys.example/jwks.json');
});

t.test('signed assertions at every endpoint that authenticates clients', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);

  for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) {
    t.test(alg, async (t) => {
      const signer = await newSigner(alg);
      const client = await keyClient(tessera, [signer]);
      const at = (endpoint: string, overrides: Record<string, unknown> = {}) =>
        sign(signer, claims(client.id, { aud: `${ISSUER}${endpoint}`, ...overrides }));

      const issued = await tokenWith(app, await sign(signer, claims(client.id)));
      t.equal(issued.statusCode, 200, `client_credentials: ${issued.body}`);
      const accessToken = issued.body_.access_token as string;

      const introspected = await post(app, '/introspect', assertionForm(await at('/introspect'), { token: accessToken }));
      t.match(introspected.body_, { active: true, client_id: client.id }, 'introspection of its own token');

      const signedIn = await post(app, '/token', {
        grant_type: 'password',
        username,
        password,
        ...assertionForm(await at('/token'), { client_id: client.id }),
      });
      t.equal(signedIn.statusCode, 200, `password grant, client_id alongside: ${signedIn.body}`);
      const refreshed = await post(
        app,
        '/token/refresh',
        assertionForm(await at('/token/refresh'), { refresh_token: signedIn.body_.refresh_token as string }),
      );
      t.equal(refreshed.statusCode, 200, `/token/refresh: ${refreshed.body}`);

      const revoked = await post(app, '/revoke', assertionForm(await at('/revoke'), { token: accessToken }));
      t.equal(revoked.statusCode, 200, '/revoke');
      const after = await post(app, '/introspect', assertionForm(await at('/introspect'), { token: accessToken }));
      t.same(after.body_, { active: false }, 'the revoked token is no longer active');
    });
  }

  t.test('aud: the issuer, the endpoint URL, or an array holding either', async (t) => {
    const signer = await newSigner('ES256');
    const client = await keyClient(tessera, [signer]);
    for (const aud of [ISSUER, `${ISSUER}/token`, ['https://other.example', ISSUER], [`${ISSUER}/token`]]) {
      const res = await tokenWith(app, await sign(signer, claims(client.id, { aud })));
      t.equal(res.statusCode, 200, `aud ${JSON.stringify(aud)}`);
    }
    refused(
      t,
      await tokenWith(app, await sign(signer, claims(client.id, { aud: `${ISSUER}/introspect` }))),
      /aud/,
      "another endpoint's URL",
    );
    refused(t, await tokenWith(app, await sign(signer, claims(client.id, { aud: 'https://other.example' }))), /aud/, 'another audience');
    refused(t, await tokenWith(app, await sign(signer, claims(client.id, { aud: `${ISSUER}/` }))), /aud/, 'compared exactly');
  });

  t.test('no kid: each key that fits the alg is tried', async (t) => {
    const [first, second] = [await newSigner('ES256'), await newSigner('ES256')];
    const client = await keyClient(tessera, [first, second]);
    t.equal((await tokenWith(app, await sign(second, claims(client.id), { kid: undefined }))).statusCode, 200);
  });

  t.test('JSON bodies', async (t) => {
    const signer = await newSigner('EdDSA');
    const client = await keyClient(tessera, [signer]);
    const res = await post(
      app,
      '/token',
      { grant_type: 'client_credentials', ...assertionForm(await sign(signer, claims(client.id))) },
      { json: true },
    );
    t.equal(res.statusCode, 200);
  });
});

t.test('refusals', async (t) => {
  const { app, tessera } = await startTessera(t);
  const signer = await newSigner('ES256');
  const other = await newSigner('ES256', signer.kid); // the same kid, another key
  const client = await keyClient(tessera, [signer]);
  const secretClient = await registerClient(tessera);
  const good = () => sign(signer, claims(client.id));
  const with_ = (overrides: Record<string, unknown>, header: Partial<JWTHeaderParameters> = {}) =>
    sign(signer, claims(client.id, overrides), header);
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${b64({ alg: 'none' })}.${b64(claims(client.id))}.`;
  const hs256 = await new SignJWT(claims(client.id)).setProtectedHeader({ alg: 'HS256', kid: signer.kid }).sign(new Uint8Array(32));
  const es384 = await generateKeyPair('ES384');

  const cases: [string, () => Promise<string>, RegExp][] = [
    ['not a JWT', async () => 'not-a-jwt', /compact JWS/],
    ['three parts, none JSON', async () => 'a.b.c', /not a well-formed signed JWT/],
    ['an encrypted JWT (five parts)', async () => 'a.b.c.d.e', /compact JWS/],
    ['over 8 KiB', async () => `${await good()}${'A'.repeat(8200)}`, /longer than 8 KiB/],
    ['alg none', async () => unsigned, /alg must be one of ES256, RS256, EdDSA, not "none"/],
    ['HS256', async () => hs256, /alg must be one of .*"HS256"/],
    ['ES384', async () => new SignJWT(claims(client.id)).setProtectedHeader({ alg: 'ES384' }).sign(es384.privateKey), /"ES384"/],
    ['signed by another key', async () => sign(other, claims(client.id)), /signature does not verify/],
    ['signed by another key, no kid', async () => sign(other, claims(client.id), { kid: undefined }), /signature does not verify/],
    ['an unknown kid', async () => with_({}, { kid: 'nobody' }), /no key of the client matches/],
    ['expired', async () => with_({ exp: now() - 30, iat: now() - 90 }), /expired/],
    ['too far ahead', async () => with_({ exp: now() + 600 }), /expire within 300 s/],
    ['no exp', async () => with_({ exp: undefined }), /exp claim is missing/],
    ['no jti', async () => with_({ jti: undefined }), /jti claim is missing/],
    ['a jti too long', async () => with_({ jti: 'j'.repeat(257) }), /jti must be 1 to 256 printable ASCII characters/],
    ['a jti that is not a string', async () => with_({ jti: 7 }), /jti must be 1 to 256 printable/],
    ['a jti with a NUL', async () => with_({ jti: 'a\u0000b' }), /jti must be 1 to 256 printable/],
    ['a jti with a lone surrogate', async () => with_({ jti: 'x\ud800' }), /jti must be 1 to 256 printable/],
    ['issued in the future', async () => with_({ iat: now() + 60 }), /issued in the future/],
    ['not valid yet', async () => with_({ nbf: now() + 60 }), /not valid yet/],
    ['iss is not sub', async () => with_({ sub: secretClient.id }), /iss and sub must both be the client_id/],
    ['no iss', async () => with_({ iss: undefined, sub: undefined }), /iss and sub/],
    ['another client (with a secret)', async () => sign(signer, claims(secretClient.id)), /no registered keys/],
    ['an unknown client', async () => sign(signer, claims('no-such-client')), /unknown client/],
    ['no aud', async () => with_({ aud: undefined }), /aud/],
  ];
  for (const [what, make, why] of cases) refused(t, await tokenWith(app, await make()), why, what);

  // Client authentication's own rules.
  const assertion = await good();
  refused(t, await tokenWith(app, assertion, { client_id: secretClient.id }), /client_id does not match/, 'another client_id');
  refused(
    t,
    await post(app, '/token', { grant_type: 'client_credentials', client_assertion_type: 'urn:example:saml', client_assertion: assertion }),
    /client_assertion_type/,
    'another assertion type',
  );
  const missing = await post(app, '/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE });
  t.equal(missing.statusCode, 400, 'a type without an assertion: invalid_request');
  const twoMethods = [
    await post(
      app,
      '/token',
      { grant_type: 'client_credentials', ...assertionForm(assertion) },
      { headers: { authorization: basic(secretClient.id, secretClient.secret!) } },
    ),
    await post(app, '/token', {
      grant_type: 'client_credentials',
      client_id: client.id,
      client_secret: 'tss_x',
      ...assertionForm(assertion),
    }),
  ];
  for (const res of twoMethods)
    t.match(res, { statusCode: 400, body_: { error: 'invalid_request', error_description: /one client authentication method/ } });

  // A client with keys proves itself by assertion only.
  refused(
    t,
    await post(app, '/token', { grant_type: 'client_credentials', client_id: client.id }),
    /authentication failed/,
    'client_id alone',
  );
  refused(
    t,
    await post(app, '/token', { grant_type: 'client_credentials' }, { headers: { authorization: basic(client.id, '') } }),
    /authentication failed/,
    'Basic without a secret',
  );
  refused(
    t,
    await post(app, '/introspect', { client_id: client.id, token: 'x' }),
    /authentication failed|confidential/,
    'introspect by client_id alone',
  );

  t.equal((await tokenWith(app, assertion)).statusCode, 200, 'the assertion refused alongside other credentials was not used up');
  refused(t, await tokenWith(app, assertion), /used before/, 'a replay');
  refused(t, await post(app, '/introspect', assertionForm(assertion, { token: 'x' })), /used before/, 'a replay at another endpoint');
});

t.test('each assertion is accepted once, across instances on one database', async (t) => {
  const db = await testDatabase(t);
  const a = await startTessera(t, { db });
  const b = await startTessera(t, { db });
  const signer = await newSigner('ES256');
  const client = await keyClient(a.tessera, [signer]);

  const assertion = await sign(signer, claims(client.id));
  t.equal((await tokenWith(a.app, assertion)).statusCode, 200, 'accepted by one instance');
  refused(t, await tokenWith(b.app, assertion), /used before/, 'replayed at the other');

  const raced = await sign(signer, claims(client.id));
  const answers = await Promise.all([a.app, b.app, a.app, b.app].map((app) => tokenWith(app, raced)));
  t.same(answers.map((res) => res.statusCode).sort(), [200, 401, 401, 401], 'of simultaneous uses, exactly one wins');

  const pruned = await a.tessera.store.prune(new Date(Date.now() + 120_000));
  t.ok(pruned.usedAssertions >= 2, 'used assertions are pruned once expired');
  t.equal((await a.tessera.store.prune(new Date(Date.now() + 120_000))).usedAssertions, 0);
});

/** Resolves once `check` holds, or rejects after 2 s. */
async function until(check: () => boolean): Promise<void> {
  for (const started = Date.now(); !check(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - started > 2000) throw new Error('not within 2 s');
  }
}

/** A client's jwks_uri: a local server whose answers the test sets per path. */
async function keyServer(t: Test) {
  const sets = new Map<string, JSONWebKeySet>();
  const hits = new Map<string, number>();
  /** Paths whose answer the client stopped reading (its connection closed). */
  const dropped = new Set<string>();
  const endless = (res: ServerResponse) => {
    const chunk = Buffer.alloc(16 * 1024, ' ');
    res.writeHead(200, { 'content-type': 'application/json' }).write('{"keys":[');
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
    };
    res.on('drain', pump);
    pump();
  };
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    res.on('close', () => {
      if (!res.writableFinished) dropped.add(path);
    });
    if (path === '/slow') return; // never answers
    if (path === '/huge') return endless(res);
    if (path === '/not-json') return res.end('<html>keys</html>');
    if (path === '/redirect') return res.writeHead(302, { location: '/good' }).end();
    if (path === '/error') return res.writeHead(500).end('{"keys":[]}');
    const set = sets.get(path);
    if (!set) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(set));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: (path: string) => `http://127.0.0.1:${port}${path}`, sets, hits, dropped };
}

t.test('keys at a jwks_uri', async (t) => {
  const { app, tessera } = await startTessera(t);
  const keys = await keyServer(t);
  const first = await newSigner('ES256');
  const second = await newSigner('RS256');

  t.test('fetched once, then held', async (t) => {
    keys.sets.set('/good', jwksOf(first));
    const client = await keyClient(tessera, [], { jwksUri: keys.url('/good') });
    for (let i = 0; i < 3; i++) t.equal((await tokenWith(app, await sign(first, claims(client.id)))).statusCode, 200);
    t.equal(keys.hits.get('/good'), 1, 'one fetch for three authentications');
    const revoked = await post(app, '/revoke', assertionForm(await sign(first, claims(client.id)), { token: 'x' }));
    t.equal(revoked.statusCode, 200);
  });

  t.test('rotated: a new kid is fetched, at most once every 10 s', async (t) => {
    keys.sets.set('/rotating', jwksOf(first));
    const client = await keyClient(tessera, [], { jwksUri: keys.url('/rotating') });
    t.equal((await tokenWith(app, await sign(first, claims(client.id)))).statusCode, 200);
    keys.sets.set('/rotating', jwksOf(second));
    const rotated = await tokenWith(app, await sign(second, claims(client.id)));
    t.equal(rotated.statusCode, 200, `the new key works at once: ${rotated.body}`);
    t.equal(keys.hits.get('/rotating'), 2);
    const stranger = await newSigner('ES256');
    refused(t, await tokenWith(app, await sign(stranger, claims(client.id))), /no key of the client matches/, 'another unknown kid');
    refused(t, await tokenWith(app, await sign(stranger, claims(client.id))), /no key of the client matches/, 'and again');
    t.equal(keys.hits.get('/rotating'), 2, 'no refetch within 10 s of the last');
    refused(t, await tokenWith(app, await sign(first, claims(client.id))), /no key of the client matches/, 'the old key is gone');
  });

  t.test('a change to the client drops its fetched keys', async (t) => {
    keys.sets.set('/changed', jwksOf(first));
    const client = await keyClient(tessera, [], { jwksUri: keys.url('/changed') });
    t.equal((await tokenWith(app, await sign(first, claims(client.id)))).statusCode, 200);
    // What an update or a deletion of the client announces, here or on another instance.
    await tessera.store.feed.commit([], [{ kind: 'client', subject: client.id }]);
    t.equal((await tokenWith(app, await sign(first, claims(client.id)))).statusCode, 200);
    t.equal(keys.hits.get('/changed'), 2, 'fetched again after the change');
  });

  t.test('a slow jwks_uri: refused after 3 s, its connection dropped', async (t) => {
    const client = await keyClient(tessera, [], { jwksUri: keys.url('/slow') });
    const started = Date.now();
    const res = await tokenWith(app, await sign(first, claims(client.id)));
    const took = Date.now() - started;
    refused(t, res, /jwks_uri did not answer within 3 s/, 'slow');
    t.ok(took >= 2900 && took < 4500, `answered after the 3 s timeout, not later (${took} ms)`);
    await t.resolves(
      until(() => keys.dropped.has('/slow')),
      'the connection is closed',
    );
    const again = Date.now();
    refused(t, await tokenWith(app, await sign(first, claims(client.id))), /did not answer within 3 s/, 'the failure is remembered');
    t.ok(Date.now() - again < 1000, 'and answered at once, without another fetch');
    t.equal(keys.hits.get('/slow'), 1);
  });

  const failing: [string, string, RegExp][] = [
    ['huge', '/huge', /jwks_uri answered more than 64 KiB/],
    ['not JSON', '/not-json', /jwks_uri: the JWK Set is not JSON/],
    ['a redirect', '/redirect', /jwks_uri cannot be fetched/],
    ['an HTTP error', '/error', /jwks_uri answered HTTP 500/],
  ];
  for (const [what, path, why] of failing) {
    t.test(`a jwks_uri answering ${what}`, async (t) => {
      const client = await keyClient(tessera, [], { jwksUri: keys.url(path) });
      refused(t, await tokenWith(app, await sign(first, claims(client.id))), why, what);
      refused(t, await tokenWith(app, await sign(first, claims(client.id))), why, 'again');
      t.equal(keys.hits.get(path), 1, 'fetched once: the failure is remembered');
    });
  }
  t.test('the huge answer is not read to its end', async (t) => {
    await t.resolves(
      until(() => keys.dropped.has('/huge')),
      'its connection is closed',
    );
  });

  t.test('a jwks_uri that nothing answers', async (t) => {
    const client = await keyClient(tessera, [], { jwksUri: `http://127.0.0.1:${await freePort()}/jwks` });
    refused(t, await tokenWith(app, await sign(first, claims(client.id))), /jwks_uri cannot be fetched \(ECONNREFUSED\)/, 'refused');
  });

  t.test('bad keys at a jwks_uri', async (t) => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    keys.sets.set('/private', { keys: [await exportJWK(privateKey)] });
    const client = await keyClient(tessera, [], { jwksUri: keys.url('/private') });
    refused(
      t,
      await tokenWith(app, await sign(first, claims(client.id))),
      /jwks_uri: key 1 of the JWK Set: it holds private key material/,
      'private',
    );
  });
});

t.test('discovery lists private_key_jwt and its algorithms', async (t) => {
  const { app } = await startTessera(t);
  const doc = JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).body);
  const algs = ['ES256', 'RS256', 'EdDSA'];
  for (const endpoint of ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint']) {
    t.ok(doc[`${endpoint}_auth_methods_supported`].includes('private_key_jwt'), `${endpoint}: private_key_jwt`);
    t.same(doc[`${endpoint}_auth_signing_alg_values_supported`], algs, `${endpoint}: its algorithms`);
  }
});

t.test('tessera client create --jwks / --jwks-uri', async (t) => {
  const db = await testDatabase(t);
  const env = cliEnv(db, 'pkjwt-test-secret-pkjwt-test-secret-0123');
  const signer = await newSigner('EdDSA');
  const file = (name: string, content: string) => {
    const path = join(db.dataDir, name);
    writeFileSync(path, content);
    return path;
  };
  const good = file('good.json', JSON.stringify(jwksOf(signer)));
  t.equal((await cli(env, ['migrate'])).code, 0, 'the schema first: no other command creates a database');

  const created = await cli(env, ['client', 'create', '--name', 'signed', '--jwks', good, '--json']);
  t.equal(created.code, 0, created.stderr);
  const shown = JSON.parse(created.stdout);
  t.match(shown, { type: 'confidential', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: null });
  t.equal(shown.jwks?.keys?.length, 1, 'the registered key set, one key');
  t.notOk('client_secret' in shown, 'no secret');
  const byUri = await cli(env, ['client', 'create', '--name', 'by-uri', '--jwks-uri', 'https://keys.example/jwks.json']);
  t.match(byUri.stdout, /token_endpoint_auth_method:\s+private_key_jwt/);
  t.match(byUri.stdout, /jwks_uri:\s+https:\/\/keys\.example\/jwks\.json/);
  t.notMatch(byUri.stdout, /client_secret/);
  const listed = (JSON.parse((await cli(env, ['client', 'list', '--json'])).stdout) as { items: { token_endpoint_auth_method: string }[] })
    .items;
  t.same(
    listed.map((c) => c.token_endpoint_auth_method),
    ['private_key_jwt', 'private_key_jwt'],
  );

  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const failures: [string[], RegExp][] = [
    [
      ['--jwks', file('private.json', JSON.stringify({ keys: [await exportJWK(privateKey)] }))],
      /--jwks: key 1 of the JWK Set: it holds private key material \("d"\)/,
    ],
    [
      ['--jwks', file('hs.json', JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0c2VjcmV0' }] }))],
      /--jwks: key 1 of the JWK Set: a symmetric key/,
    ],
    [['--jwks', file('text.json', 'these are not keys')], /--jwks: the JWK Set is not JSON/],
    [['--jwks', join(db.dataDir, 'missing.json')], /--jwks: cannot read .*ENOENT/],
    [['--jwks', good, '--jwks-uri', 'https://keys.example/jwks.json'], /not both/],
    [['--jwks-uri', 'http://keys.example/jwks.json'], /--jwks-uri: jwks_uri must use https/],
    [['--jwks', good, '--public', '--redirect-uri', 'https://app.example/cb'], /public client has no keys/],
  ];
  const runs = await Promise.all(failures.map(([args]) => cli(env, ['client', 'create', '--name', 'x', ...args])));
  runs.forEach((run, i) => failsClearly(t, run, failures[i]![1]));

  // The client the command registered authenticates at a server on the same database.
  const server = await Tessera.open(testConfig(db, { TESSERA_SECRET: env.TESSERA_SECRET }), createLogger('silent'));
  const app = await buildApp(server);
  t.teardown(async () => {
    await app.close();
    await server.close();
  });
  t.equal((await tokenWith(app, await sign(signer, claims(shown.client_id as string)))).statusCode, 200, 'its assertion is accepted');
});
