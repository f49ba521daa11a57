// RFC 7591 dynamic client registration (POST /register, gated by an initial access token) and
// RFC 7592 management (GET/PUT/DELETE /register/{client_id}, with the registration access token):
// the clients registered work, every refusal is the RFC's error and leaves nothing behind (no
// client, no use of the initial access token counted, no audit entry), every change is audited.
import t, { type Test } from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Tessera } from '../src/tessera.ts';
import { tokenDigest } from '../src/tokens/opaque.ts';
import { basic, ISSUER, post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';

const REDIRECT = 'https://app.example.com/callback';
const LOOPBACK = 'http://127.0.0.1:8765/callback';

type Answer = LightMyRequestResponse & { body_: Record<string, unknown> };

function parsed(res: LightMyRequestResponse): Answer {
  let body_: Record<string, unknown>;
  try {
    body_ = res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {};
  } catch {
    body_ = { raw: res.body };
  }
  return Object.assign(res, { body_ });
}

/** A request to the registration endpoints: JSON `body` (or a raw `payload`), a bearer `token` when given. */
async function call(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  token: string | undefined,
  body?: unknown,
  options: { payload?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) };
  const payload = options.payload ?? (body === undefined ? undefined : JSON.stringify(body));
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return parsed(
    await app.inject({ method, url, headers: { ...headers, ...options.headers }, ...(payload !== undefined ? { payload } : {}) }),
  );
}

const register = (
  app: FastifyInstance,
  token: string | undefined,
  metadata: unknown,
  options?: { payload?: string; headers?: Record<string, string> },
) => call(app, 'POST', '/register', token, metadata, options);

async function initialToken(tessera: Tessera, options: { ttl?: number; maxUses?: number } = {}): Promise<string> {
  return (await tessera.registrationTokens.createInitial({ ttl: 3600, ...options })).token;
}

function refused(t: Test, res: Answer, status: number, error: string, what: string, description?: RegExp) {
  t.equal(res.statusCode, status, `${what}: ${status} (${res.body.slice(0, 300)})`);
  t.equal(res.body_.error, error, `${what}: ${error}`);
  t.type(res.body_.error_description, 'string', `${what}: says why`);
  if (description) t.match(res.body_.error_description, description, `${what}: names the problem`);
  t.same(Object.keys(res.body_).sort(), ['error', 'error_description'], `${what}: the error shape`);
}

function unauthorized(t: Test, res: Answer, what: string, tokenSent = true) {
  refused(t, res, 401, 'invalid_token', what);
  const challenge = String(res.headers['www-authenticate'] ?? '');
  t.match(challenge, /^Bearer /, `${what}: a Bearer challenge`);
  if (tokenSent) t.match(challenge, /error="invalid_token"/, `${what}: the challenge says invalid_token`);
  else t.notMatch(challenge, /error=/, `${what}: no error code in the challenge when no token was sent (RFC 6750 §3.1)`);
}

async function newSigner() {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid } };
}

function assertionFor(clientId: string, signer: Awaited<ReturnType<typeof newSigner>>) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: clientId, sub: clientId, aud: ISSUER, iat: now, exp: now + 60, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: signer.kid })
    .sign(signer.privateKey);
}

const countClients = async (tessera: Tessera) => (await tessera.clients.list()).length;
const auditEntries = async (tessera: Tessera) => (await tessera.audit.page(500)).items;

/** Signs in through the real page and returns the code the redirect carries. */
async function authorizationCode(app: FastifyInstance, clientId: string, redirectUri: string, challenge: string) {
  const query = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    state: 's',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  const page = await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams(query)}` });
  const rawCookies = page.headers['set-cookie'];
  const cookie = (Array.isArray(rawCookies) ? rawCookies : [rawCookies ?? '']).map((c) => String(c).split(';')[0]).join('; ');
  const hidden = Object.fromEntries(
    [...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]),
  );
  const answer = await app.inject({
    method: 'POST',
    url: '/authorize',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    payload: new URLSearchParams({ ...hidden, username: 'alice', password: 'correct horse battery' }).toString(),
  });
  return { page, answer, code: answer.headers.location ? new URL(String(answer.headers.location)).searchParams.get('code') : null };
}

t.test('discovery names the registration endpoint', async (t) => {
  const { app } = await startTessera(t);
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
  t.equal(res.json().registration_endpoint, `${ISSUER}/register`);
});

t.test('a confidential client: registered, then client_credentials with the secret it was given', async (t) => {
  const { app, tessera } = await startTessera(t);
  const token = await initialToken(tessera);
  const before = Math.floor(Date.now() / 1000);
  const res = await register(app, token, { client_name: 'Billing', grant_types: ['client_credentials'], scope: 'read write' });
  t.equal(res.statusCode, 201, res.body);
  t.match(res.headers['cache-control'], /no-store/, 'not cached');
  const body = res.body_;
  const id = body.client_id as string;
  t.match(body.client_secret, /^tss_/, 'a secret');
  t.equal(body.client_secret_expires_at, 0, 'that does not expire');
  t.ok((body.client_id_issued_at as number) >= before - 1 && (body.client_id_issued_at as number) <= before + 5, 'issued now');
  t.match(body.registration_access_token, /^tsm_[A-Za-z0-9_-]{43}$/, 'a registration access token');
  t.equal(body.registration_client_uri, `${ISSUER}/register/${id}`);
  t.equal(body.client_name, 'Billing');
  t.equal(body.token_endpoint_auth_method, 'client_secret_basic', 'the default method');
  t.same(body.grant_types, ['client_credentials']);
  t.same(body.response_types, []);
  t.same(body.redirect_uris, []);
  t.equal(body.scope, 'read write');

  const record = await tessera.clients.get(id);
  t.equal(record.registrationTokenDigest, tokenDigest(body.registration_access_token as string), 'the token is kept as its digest');
  t.notOk(JSON.stringify(record).includes(body.registration_access_token as string), 'and never as itself');
  t.notOk(record.admin || record.canIntrospect, 'neither admin nor introspecting');

  const issued = await tokenRequest(app, { id, secret: body.client_secret as string }, { grant_type: 'client_credentials', scope: 'read' });
  t.equal(issued.statusCode, 200, issued.body);
  t.equal(issued.body_.scope, 'read');
  const tooMuch = await tokenRequest(
    app,
    { id, secret: body.client_secret as string },
    { grant_type: 'client_credentials', scope: 'admin' },
  );
  t.equal(tooMuch.body_.error, 'invalid_scope', 'only the registered scopes');

  // client_secret_post is answered as asked, and works (every client with a secret may use either).
  const posting = await register(app, token, { token_endpoint_auth_method: 'client_secret_post', client_name: 'Poster' });
  t.equal(posting.statusCode, 201, posting.body);
  t.equal(posting.body_.token_endpoint_auth_method, 'client_secret_post');
  t.same(posting.body_.grant_types, ['client_credentials'], "no grant_types and no redirect URI: the contract's default");
  const viaPost = await post(app, '/token', {
    grant_type: 'client_credentials',
    client_id: posting.body_.client_id as string,
    client_secret: posting.body_.client_secret as string,
  });
  t.equal(viaPost.statusCode, 200, viaPost.body);

  // Unknown metadata is ignored (RFC 7591 §2), including what would be Tessera's own settings.
  const extras = await register(app, token, {
    client_name: 'Extras',
    logo_uri: 'https://app.example.com/logo.png',
    contacts: ['ops@example.com'],
    software_statement: 'eyJ.x.y',
    admin: true,
    introspect: true,
    token_format: 'jwt',
  });
  t.equal(extras.statusCode, 201, extras.body);
  t.notOk('logo_uri' in extras.body_ || 'admin' in extras.body_, 'unknown members are not echoed');
  const extrasRecord = await tessera.clients.get(extras.body_.client_id as string);
  t.notOk(extrasRecord.admin || extrasRecord.canIntrospect, 'no admin, no introspection, whatever is sent');
  t.equal(extrasRecord.tokenFormat, 'opaque');
});

t.test('a public client: authorization_code with its redirect URIs, through the sign-in page', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { user } = await registerUser(tessera);
  const res = await register(app, await initialToken(tessera), {
    client_name: 'Mobile app',
    token_endpoint_auth_method: 'none',
    redirect_uris: [REDIRECT, LOOPBACK],
    scope: 'profile',
  });
  t.equal(res.statusCode, 201, res.body);
  const id = res.body_.client_id as string;
  t.notOk('client_secret' in res.body_, 'no secret');
  t.notOk('client_secret_expires_at' in res.body_, 'and no expiry of one');
  t.equal(res.body_.token_endpoint_auth_method, 'none');
  t.same(res.body_.grant_types, ['authorization_code', 'refresh_token'], 'the code flow, and refresh');
  t.same(res.body_.response_types, ['code']);
  t.same(res.body_.redirect_uris, [REDIRECT, LOOPBACK]);
  // Registered by anyone with an initial access token, it is third-party: the user approves it (here
  // beforehand, as the consent page would record it; the page has tests of its own).
  t.equal((await tessera.clients.get(id)).consent, true, 'a dynamically registered client asks for consent');
  await tessera.consents.approve(user.id, id, ['profile']);

  const { verifier, challenge } = pkcePair();
  const { page, code } = await authorizationCode(app, id, LOOPBACK, challenge);
  t.equal(page.statusCode, 200, 'the sign-in page');
  t.ok(code, 'a code');
  const exchanged = await tokenRequest(
    app,
    { id },
    { grant_type: 'authorization_code', code: code!, code_verifier: verifier, redirect_uri: LOOPBACK },
  );
  t.equal(exchanged.statusCode, 200, exchanged.body);
  t.match(exchanged.body_.refresh_token, /^tsr_/);
  const cc = await tokenRequest(app, { id }, { grant_type: 'client_credentials' });
  t.equal(cc.statusCode, 401, 'a public client has no client_credentials');

  // Response types and grants go together (RFC 7591 §2.1): response_types code alone means the code flow.
  const byResponseType = await register(app, await initialToken(tessera), { response_types: ['code'], redirect_uris: [REDIRECT] });
  t.equal(byResponseType.statusCode, 201, byResponseType.body);
  t.same(byResponseType.body_.grant_types, ['authorization_code', 'refresh_token']);
  t.equal(byResponseType.body_.client_name, 'dynamically registered client', 'a name when none is given');
});

t.test('private_key_jwt: a client with its JWK Set authenticates by assertion', async (t) => {
  const { app, tessera } = await startTessera(t);
  const signer = await newSigner();
  const token = await initialToken(tessera);
  const res = await register(app, token, {
    client_name: 'Signed',
    token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials'],
    jwks: { keys: [signer.jwk] },
  });
  t.equal(res.statusCode, 201, res.body);
  const id = res.body_.client_id as string;
  t.notOk('client_secret' in res.body_, 'no secret: keys');
  t.equal(res.body_.token_endpoint_auth_method, 'private_key_jwt');
  t.same(res.body_.jwks, { keys: [signer.jwk] }, 'the keys, as registered');
  const issued = await post(app, '/token', {
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await assertionFor(id, signer),
  });
  t.equal(issued.statusCode, 200, issued.body);

  // Keys and no method named: private_key_jwt is what they are for.
  const inferred = await register(app, token, { jwks: { keys: [(await newSigner()).jwk] } });
  t.equal(inferred.statusCode, 201, inferred.body);
  t.equal(inferred.body_.token_endpoint_auth_method, 'private_key_jwt');
  // A jwks_uri would have the server fetch what an outsider names, from inside its network.
  const byUri = await register(app, token, {
    token_endpoint_auth_method: 'private_key_jwt',
    jwks_uri: 'https://keys.example.com/jwks.json',
  });
  t.equal(byUri.statusCode, 400, byUri.body);
  t.match(byUri.body_, { error: 'invalid_client_metadata', error_description: /jwks_uri cannot be registered dynamically/ });
});

t.test('RFC 7592: read, replace and delete with the registration access token', async (t) => {
  const { app, tessera } = await startTessera(t);
  const token = await initialToken(tessera);
  const created = await register(app, token, { client_name: 'Managed', grant_types: ['client_credentials'], scope: 'read write' });
  const id = created.body_.client_id as string;
  const rat = created.body_.registration_access_token as string;
  const secret = created.body_.client_secret as string;
  const url = `/register/${id}`;
  const accessToken = (await tokenRequest(app, { id, secret }, { grant_type: 'client_credentials' })).body_.access_token as string;

  const read = await call(app, 'GET', url, rat);
  t.equal(read.statusCode, 200, read.body);
  t.match(read.headers['cache-control'], /no-store/, 'not cached');
  const { client_secret: _secret, ...registered } = created.body_;
  t.same(read.body_, registered, 'the metadata as registered, and the way back here');
  t.notOk('client_secret' in read.body_, 'never the secret again (only its digest is kept)');
  // What a read answers can be sent back as it is (the members §2.2 says not to send are ignored).
  const echoed = await call(app, 'PUT', url, rat, read.body_);
  t.equal(echoed.statusCode, 200, echoed.body);
  t.same(echoed.body_, read.body_, 'and changes nothing');

  // PUT replaces: scope left out is removed; the name changes; the secret stays.
  const replaced = await call(app, 'PUT', url, rat, { client_id: id, client_name: 'Managed v2', grant_types: ['client_credentials'] });
  t.equal(replaced.statusCode, 200, replaced.body);
  t.equal(replaced.body_.client_name, 'Managed v2');
  t.notOk('scope' in replaced.body_, 'the scope left out is gone');
  t.notOk('client_secret' in replaced.body_, 'no new secret');
  t.equal(replaced.body_.registration_access_token, rat, 'the same registration access token');
  t.same((await tessera.clients.get(id)).scopes, [], 'in the database too');
  const narrowed = await post(app, '/token/verify', { token: accessToken });
  t.equal(narrowed.statusCode, 401, 'narrowing the scopes ended the tokens the client held');
  t.equal((await tokenRequest(app, { id, secret }, { grant_type: 'client_credentials' })).statusCode, 200, 'the secret still works');

  // The client's own secret may be repeated; another is refused, and nothing changes.
  const withSecret = await call(app, 'PUT', url, rat, { client_id: id, client_secret: secret, client_name: 'Managed v3', scope: 'read' });
  t.equal(withSecret.statusCode, 200, withSecret.body);
  t.equal(withSecret.body_.scope, 'read');
  const wrongSecret = await call(app, 'PUT', url, rat, { client_id: id, client_secret: `tss_${'x'.repeat(43)}`, client_name: 'Hijacked' });
  refused(t, wrongSecret, 400, 'invalid_request', 'a client_secret that is not the client’s');
  t.equal((await tessera.clients.get(id)).name, 'Managed v3', 'unchanged');

  // From a secret to keys: the secret stops working.
  const signer = await newSigner();
  const toKeys = await call(app, 'PUT', url, rat, {
    client_id: id,
    token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials'],
    jwks: { keys: [signer.jwk] },
  });
  t.equal(toKeys.statusCode, 200, toKeys.body);
  t.equal(toKeys.body_.token_endpoint_auth_method, 'private_key_jwt');
  t.notOk('client_secret_expires_at' in toKeys.body_, 'no secret any more');
  t.equal((await tokenRequest(app, { id, secret }, { grant_type: 'client_credentials' })).statusCode, 401, 'the old secret is refused');
  // And back: a new secret, shown once.
  const toSecret = await call(app, 'PUT', url, rat, { client_id: id, grant_types: ['client_credentials'] });
  t.equal(toSecret.statusCode, 200, toSecret.body);
  t.match(toSecret.body_.client_secret, /^tss_/, 'a new secret');
  t.equal(toSecret.body_.client_secret_expires_at, 0);
  const newSecret = toSecret.body_.client_secret as string;
  const fresh = await tokenRequest(app, { id, secret: newSecret }, { grant_type: 'client_credentials' });
  t.equal(fresh.statusCode, 200, 'the new secret works');

  const deleted = await call(app, 'DELETE', url, rat);
  t.equal(deleted.statusCode, 204, deleted.body);
  t.equal(deleted.body, '', 'no body');
  await t.rejects(tessera.clients.get(id), 'the client is gone');
  unauthorized(t, await call(app, 'GET', url, rat), 'its registration access token after the delete');
  t.equal(
    (await tokenRequest(app, { id, secret: newSecret }, { grant_type: 'client_credentials' })).statusCode,
    401,
    'its secret is refused',
  );
  const verified = await post(app, '/token/verify', { token: fresh.body_.access_token as string });
  t.equal(verified.statusCode, 401, 'its tokens are gone');
  unauthorized(t, await call(app, 'DELETE', url, rat), 'a second delete');
});

t.test('post_logout_redirect_uris (RP-Initiated Logout): registered, echoed, replaced; consent stays the operator’s', async (t) => {
  const { app, tessera } = await startTessera(t);
  const uris = ['https://app.example.com/signed-out', 'http://localhost:8765/bye'];
  const created = await register(app, await initialToken(tessera), {
    client_name: 'Logs out',
    token_endpoint_auth_method: 'none',
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: uris,
  });
  t.equal(created.statusCode, 201, created.body);
  t.same(created.body_.post_logout_redirect_uris, uris, 'echoed');
  const id = created.body_.client_id as string;
  const rat = created.body_.registration_access_token as string;
  t.match(await tessera.clients.get(id), { postLogoutRedirectUris: uris, consent: true }, 'stored, and third-party');
  const read = await call(app, 'GET', `/register/${id}`, rat);
  t.same(read.body_.post_logout_redirect_uris, uris, 'read back');

  const replaced = await call(app, 'PUT', `/register/${id}`, rat, {
    client_id: id,
    token_endpoint_auth_method: 'none',
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: ['https://app.example.com/bye'],
  });
  t.equal(replaced.statusCode, 200, replaced.body);
  t.same(replaced.body_.post_logout_redirect_uris, ['https://app.example.com/bye'], 'replaced');
  // An operator trusts the client: an update of its metadata does not take that back, nor can it make itself first-party.
  await tessera.clients.update(id, { consent: false });
  const omitted = await call(app, 'PUT', `/register/${id}`, rat, {
    client_id: id,
    token_endpoint_auth_method: 'none',
    redirect_uris: [REDIRECT],
  });
  t.equal(omitted.statusCode, 200, omitted.body);
  t.notOk('post_logout_redirect_uris' in omitted.body_, 'left out: removed (RFC 7592 §2.2)');
  t.match(await tessera.clients.get(id), { postLogoutRedirectUris: [], consent: false }, 'consent is the operator’s setting');

  const clients = await countClients(tessera);
  for (const [what, value, description] of [
    ['http on a host that is not loopback', ['http://app.example.com/bye'], /post-logout redirect URI must use https/],
    ['a fragment', ['https://app.example.com/bye#x'], /post-logout redirect URI must not have a fragment/],
    ['a relative URI', ['/bye'], /post-logout redirect URI is not an absolute URI/],
  ] as const) {
    const res = await register(app, await initialToken(tessera), { redirect_uris: [REDIRECT], post_logout_redirect_uris: value });
    // RFC 7591 §3.2.2: invalid_redirect_uri is for redirect_uris only.
    refused(t, res, 400, 'invalid_client_metadata', what, description);
  }
  refused(
    t,
    await register(app, await initialToken(tessera), { post_logout_redirect_uris: 'https://app.example.com/bye' }),
    400,
    'invalid_client_metadata',
    'not an array',
    /post_logout_redirect_uris/,
  );
  t.equal(await countClients(tessera), clients, 'no refused registration created a client');
});

t.test('every change is in the audit log, by whom, with field names and never a secret', async (t) => {
  const { app, tessera } = await startTessera(t);
  const token = await initialToken(tessera);
  const created = await register(app, token, { client_name: 'Audited', scope: 'read' });
  const id = created.body_.client_id as string;
  const rat = created.body_.registration_access_token as string;
  await call(app, 'PUT', `/register/${id}`, rat, { client_id: id, client_secret: created.body_.client_secret, client_name: 'Audited 2' });
  await call(app, 'DELETE', `/register/${id}`, rat);
  const entries = (await auditEntries(tessera)).reverse();
  t.same(
    entries.map(({ actor, action, target }) => ({ actor, action, target })),
    [
      { actor: 'register', action: 'client.register', target: id },
      { actor: `register:${id}`, action: 'client.update', target: id },
      { actor: `register:${id}`, action: 'client.delete', target: id },
    ],
  );
  t.same(entries[0]!.details, { fields: ['client_name', 'scope'], initial_access_token_id: tokenDigest(token).slice(0, 16) });
  t.same(entries[1]!.details, { fields: ['client_name'] });
  const all = JSON.stringify(entries);
  for (const secret of [token, rat, created.body_.client_secret as string]) t.notOk(all.includes(secret), 'no token or secret recorded');
});

t.test('initial access tokens: missing, wrong, expired, used up, raced', async (t) => {
  const { app, tessera } = await startTessera(t);
  const metadata = { client_name: 'x', grant_types: ['client_credentials'] };
  unauthorized(t, await register(app, undefined, metadata), 'no token', false);
  unauthorized(t, await register(app, undefined, metadata, { headers: { authorization: basic('a', 'b') } }), 'Basic instead', false);
  unauthorized(t, await register(app, `tsi_${randomBytes(32).toString('base64url')}`, metadata), 'an unknown token');
  unauthorized(t, await register(app, 'not-a-token', metadata), 'garbage');
  unauthorized(t, await register(app, '', metadata, { headers: { authorization: 'Bearer a b c' } }), 'a malformed header');
  const ratShaped = (await register(app, await initialToken(tessera), metadata)).body_.registration_access_token as string;
  unauthorized(t, await register(app, ratShaped, metadata), 'a registration access token instead');
  // Without a token the body is not even read.
  unauthorized(t, await register(app, undefined, undefined, { payload: '{"broken' }), 'no token, malformed body', false);

  const expiring = await initialToken(tessera, { ttl: 1 });
  await new Promise((resolve) => setTimeout(resolve, 1100));
  unauthorized(t, await register(app, expiring, metadata), 'an expired token');

  const twice = await initialToken(tessera, { maxUses: 2 });
  t.equal((await register(app, twice, metadata)).statusCode, 201, 'first use');
  t.equal((await register(app, twice, metadata)).statusCode, 201, 'second use');
  unauthorized(t, await register(app, twice, metadata), 'a third: used up');

  const once = await initialToken(tessera, { maxUses: 1 });
  const before = await countClients(tessera);
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => register(app, once, { ...metadata, client_name: `racer ${i}` })));
  t.same(
    answers.map((a) => a.statusCode).sort(),
    [201, ...Array<number>(11).fill(401)],
    'of 12 concurrent registrations with a max_uses=1 token, exactly one succeeds',
  );
  t.equal(await countClients(tessera), before + 1, 'and one client exists');
});

t.test('refused metadata: the RFC error, and nothing created or counted', async (t) => {
  const { app, tessera } = await startTessera(t);
  const once = await initialToken(tessera, { maxUses: 1 });
  const clientsBefore = await countClients(tessera);
  const auditBefore = (await auditEntries(tessera)).length;
  const bad = (what: string, metadata: unknown, error: string, description?: RegExp) => ({ what, metadata, error, description });
  const cases = [
    bad('an http redirect URI on a public host', { redirect_uris: ['http://app.example.com/cb'] }, 'invalid_redirect_uri', /https/),
    bad('the password grant', { grant_types: ['password'] }, 'invalid_client_metadata', /password grant/),
    bad('a custom-scheme redirect URI', { redirect_uris: ['com.example.app:/cb'] }, 'invalid_redirect_uri', /https/),
    bad('a redirect URI with a fragment', { redirect_uris: ['https://app.example.com/cb#x'] }, 'invalid_redirect_uri', /fragment/),
    bad('a relative redirect URI', { redirect_uris: ['/cb'] }, 'invalid_redirect_uri', /absolute/),
    bad('a javascript: redirect URI', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'),
    bad('an unknown grant type', { grant_types: ['implicit'] }, 'invalid_client_metadata', /grant_types/),
    bad('a URN grant type', { grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] }, 'invalid_client_metadata'),
    bad(
      'a public client with client_credentials',
      { token_endpoint_auth_method: 'none', grant_types: ['client_credentials'] },
      'invalid_client_metadata',
      /public client cannot use client_credentials/,
    ),
    bad('authorization_code without a redirect URI', { grant_types: ['authorization_code'] }, 'invalid_client_metadata', /redirect_uris/),
    bad('a public client without a redirect URI', { token_endpoint_auth_method: 'none' }, 'invalid_client_metadata', /redirect_uris/),
    bad('a scope that is no scope token', { scope: 'read "write"' }, 'invalid_client_metadata', /scope/),
    bad('the admin scope', { scope: 'read tessera:admin' }, 'invalid_client_metadata', /tessera:admin/),
    bad('response_types token', { response_types: ['token'] }, 'invalid_client_metadata', /response_types/),
    bad(
      'response_types code without the code grant',
      { response_types: ['code'], grant_types: ['client_credentials'] },
      'invalid_client_metadata',
    ),
    bad(
      'the code grant without response_types code',
      { response_types: [], grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
      'invalid_client_metadata',
    ),
    bad('an auth method Tessera does not have', { token_endpoint_auth_method: 'client_secret_jwt' }, 'invalid_client_metadata'),
    bad('private_key_jwt without keys', { token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata', /jwks/),
    bad('a symmetric key', { jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'invalid_client_metadata', /jwks/),
    bad('a JWK Set without keys', { jwks: { keys: [] } }, 'invalid_client_metadata', /jwks/),
    bad('a JWK Set that is no JWK Set', { jwks: {} }, 'invalid_client_metadata', /jwks\.keys is missing/),
    bad('jwks and jwks_uri both', { jwks: { keys: [{ kty: 'EC' }] }, jwks_uri: 'https://k.example.com/' }, 'invalid_client_metadata'),
    bad('an http jwks_uri', { jwks_uri: 'http://keys.example.com/jwks.json' }, 'invalid_client_metadata', /jwks_uri/),
    bad(
      'keys with a secret method',
      { token_endpoint_auth_method: 'client_secret_basic', jwks_uri: 'https://k.example.com/' },
      'invalid_client_metadata',
    ),
    bad('a public client with keys', { token_endpoint_auth_method: 'none', jwks_uri: 'https://k.example.com/' }, 'invalid_client_metadata'),
    bad('redirect_uris as a string (no coercion)', { redirect_uris: REDIRECT }, 'invalid_client_metadata', /redirect_uris/),
    bad('client_name as a number (no coercion)', { client_name: 42 }, 'invalid_client_metadata', /client_name/),
    bad('an empty client_name', { client_name: '' }, 'invalid_client_metadata', /client_name/),
    bad('a blank client_name', { client_name: '   ' }, 'invalid_client_metadata', /client_name/),
    bad('a JSON array', [{ client_name: 'x' }], 'invalid_request'),
    bad('a NUL character', { client_name: 'a\u0000b' }, 'invalid_request', /NUL/),
    bad('a NUL in an ignored member', { client_name: 'x', logo_uri: 'a\u0000' }, 'invalid_request'),
  ];
  for (const { what, metadata, error, description } of cases)
    refused(t, await register(app, once, metadata), 400, error, what, description);
  refused(t, await register(app, once, undefined, { payload: '{"client_name": ' }), 400, 'invalid_request', 'malformed JSON');
  refused(t, await register(app, once, undefined, { payload: '{"client_name": "\\ud800"}' }), 400, 'invalid_request', 'a lone surrogate');
  refused(t, await register(app, once, undefined, { payload: '' }), 400, 'invalid_request', 'an empty body');
  const form = await app.inject({
    method: 'POST',
    url: '/register',
    headers: { authorization: `Bearer ${once}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'client_name=x',
  });
  refused(t, parsed(form), 400, 'invalid_request', 'a form instead of JSON', /application\/json/);
  const huge = await register(app, once, { client_name: 'x', padding: 'x'.repeat(40_000) });
  refused(t, huge, 413, 'invalid_request', 'an oversized body');
  const deep = await register(app, await initialToken(tessera), undefined, {
    payload: `{"x": ${'['.repeat(5000)}${']'.repeat(5000)}, "client_name": "deep"}`,
  });
  t.equal(deep.statusCode, 201, 'deeply nested members are ignored, and cost nothing');
  const created = deep.statusCode === 201 ? 1 : 0;

  t.equal(await countClients(tessera), clientsBefore + created, 'no client was created by a refusal');
  t.equal((await auditEntries(tessera)).length, auditBefore + created, 'nothing audited for a refusal');
  const ok = await register(app, once, { client_name: 'after the refusals', redirect_uris: [LOOPBACK] });
  t.equal(ok.statusCode, 201, `the max_uses=1 token still has its use (${ok.body})`);
  t.same(ok.body_.grant_types, ['authorization_code', 'refresh_token'], 'redirect URIs and no grant_types: the code flow (RFC 7591 §2)');
  unauthorized(t, await register(app, once, { client_name: 'one too many' }), 'and then it is used up');
  const health = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
  t.equal(health.statusCode, 200, 'the server keeps serving');
});

t.test('registration access tokens: wrong, another client’s, none, a client not registered here', async (t) => {
  const { app, tessera } = await startTessera(t);
  const token = await initialToken(tessera);
  const a = (await register(app, token, { client_name: 'A', grant_types: ['client_credentials'] })).body_;
  const b = (await register(app, token, { client_name: 'B', grant_types: ['client_credentials'] })).body_;
  const aUrl = `/register/${a.client_id as string}`;
  const aRat = a.registration_access_token as string;
  const bRat = b.registration_access_token as string;
  const operatorClient = await registerClient(tessera, { name: 'by an operator' });
  const update = { client_id: a.client_id, client_name: 'changed' };
  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    const body = method === 'PUT' ? update : undefined;
    unauthorized(t, await call(app, method, aUrl, undefined, body), `${method} without a token`, false);
    unauthorized(t, await call(app, method, aUrl, `tsm_${randomBytes(32).toString('base64url')}`, body), `${method} with a wrong token`);
    unauthorized(t, await call(app, method, aUrl, bRat, body), `${method} with another client’s token`);
    unauthorized(t, await call(app, method, aUrl, token, body), `${method} with the initial access token`);
    unauthorized(
      t,
      await call(app, method, `/register/${operatorClient.id}`, aRat, body),
      `${method} on a client not registered dynamically`,
    );
    unauthorized(t, await call(app, method, '/register/no-such-client', aRat, body), `${method} on a client that does not exist`);
    unauthorized(t, await call(app, method, `/register/${'x'.repeat(100)}`, aRat, body), `${method} on a long id`);
    unauthorized(t, await call(app, method, '/register/a%00b', aRat, body), `${method} on an id with a NUL`);
    unauthorized(t, await call(app, method, '/register/%E2%80%8B', aRat, body), `${method} on an id that is not ASCII`);
  }
  // Longer than Fastify's router takes a path parameter (100): refused before any route runs.
  const overlong = await call(app, 'GET', `/register/${'x'.repeat(500)}`, aRat);
  t.ok(overlong.statusCode >= 400 && overlong.statusCode < 500, `an overlong id: a 4xx (${overlong.statusCode})`);
  t.equal((await tessera.clients.get(a.client_id as string)).name, 'A', 'nothing changed');

  const mismatched = await call(app, 'PUT', aUrl, aRat, { client_id: b.client_id, client_name: 'changed' });
  refused(t, mismatched, 400, 'invalid_request', 'PUT naming another client_id', /client_id/);
  const missing = await call(app, 'PUT', aUrl, aRat, { client_name: 'changed' });
  refused(t, missing, 400, 'invalid_request', 'PUT without client_id', /client_id/);
  const badMetadata = await call(app, 'PUT', aUrl, aRat, { client_id: a.client_id, redirect_uris: ['http://evil.example.com/'] });
  refused(t, badMetadata, 400, 'invalid_redirect_uri', 'PUT with an http redirect URI');
  const publicCc = await call(app, 'PUT', aUrl, aRat, {
    client_id: a.client_id,
    token_endpoint_auth_method: 'none',
    grant_types: ['client_credentials'],
  });
  refused(t, publicCc, 400, 'invalid_client_metadata', 'PUT making a public client_credentials client');
  const malformed = await call(app, 'PUT', aUrl, aRat, undefined, { payload: '{"client_id": ' });
  refused(t, malformed, 400, 'invalid_request', 'PUT with malformed JSON');
  const after = await tessera.clients.get(a.client_id as string);
  t.equal(after.name, 'A', 'no refused PUT changed anything');
  t.not(after.secretDigest, null, 'the secret is still there');
  t.equal(
    (await tokenRequest(app, { id: a.client_id as string, secret: a.client_secret as string }, { grant_type: 'client_credentials' }))
      .statusCode,
    200,
  );
  t.same(
    (await auditEntries(tessera)).map((e) => e.action),
    ['client.register', 'client.register'],
    'only the two registrations are audited',
  );
});
