// OpenID Connect ID tokens: issued by the code exchange and each refresh of an `openid` grant,
// verified here as a relying party would (jose against the published JWKS, at_hash computed
// independently), never by the password grant; and read back as /logout's id_token_hint.
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { SignJWT, createLocalJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { ISSUER, post, registerClient, registerUser, startTessera, tokenRequest, type Running } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';
import { listeningTessera } from './helpers/verify-kit.ts';

const REDIRECT = 'https://app.example.com/callback';
const OIDC_SCOPES = ['openid', 'profile', 'email'];

/** The left half of SHA-256 of the token, base64url (OpenID Connect Core §3.1.3.6), computed here on its own. */
const expectedAtHash = (accessToken: string) =>
  Buffer.from(createHash('sha256').update(accessToken).digest().subarray(0, 16)).toString('base64url');

type Client = { id: string; secret?: string };

/** A code as /authorize issues one (a real code row), with the sign-in it came from. */
async function codeFor(
  server: Running,
  client: Client,
  userId: string,
  extra: { scope?: string; nonce?: string | null; authTime?: Date | null; sessionId?: string | null } = {},
) {
  const { verifier, challenge } = pkcePair();
  // A code names a live session (an exchange refuses one whose session has ended): stored here
  // under the id the test names, as a sign-in on /authorize stores one.
  if (extra.sessionId) {
    const now = new Date();
    await server.tessera.store.sessions.create({
      id: extra.sessionId,
      digest: createHash('sha256').update(extra.sessionId).digest('hex'),
      userId,
      authTime: extra.authTime ?? now,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + 3_600_000),
    });
  }
  const code = await server.tessera.tokens.issueCode({
    clientId: client.id,
    userId,
    redirectUri: REDIRECT,
    scope: extra.scope ?? OIDC_SCOPES.join(' '),
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    nonce: extra.nonce ?? null,
    authTime: extra.authTime ?? null,
    sessionId: extra.sessionId ?? null,
  });
  return { code, verifier };
}

async function exchange(server: Running, client: Client, grant: { code: string; verifier: string }, headers: Record<string, string> = {}) {
  const form = { grant_type: 'authorization_code', code: grant.code, code_verifier: grant.verifier, redirect_uri: REDIRECT };
  if (Object.keys(headers).length === 0) return tokenRequest(server.app, client, form);
  return post(server.app, '/token', { client_id: client.id, ...form }, { headers });
}

/** Verifies an ID token as a relying party: signature against the published JWKS, iss, aud, typ, exp. */
async function verifyIdToken(t: Test, server: Running, idToken: unknown, clientId: string): Promise<JWTPayload> {
  t.type(idToken, 'string', 'an id_token');
  const jwks = createLocalJWKSet(JSON.parse((await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body));
  const { payload, protectedHeader } = await jwtVerify(idToken as string, jwks, {
    issuer: ISSUER,
    audience: clientId,
    typ: 'JWT',
    algorithms: ['ES256'],
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'at_hash'],
  });
  t.same(Object.keys(protectedHeader).sort(), ['alg', 'kid', 'typ'], 'header: alg, kid, typ');
  t.equal(protectedHeader.kid, server.tessera.keys.signingKey().kid, 'signed by the current key');
  return payload;
}

t.test('ID tokens', async (t) => {
  const server = await startTessera(t);
  const { app, tessera } = server;
  const { user, username, password } = await registerUser(tessera);
  const spa = await registerClient(tessera, { public: true, redirectUris: [REDIRECT], scopes: [...OIDC_SCOPES, 'read'], accessTtl: 120 });
  const jwtClient = await registerClient(tessera, {
    grants: ['authorization_code', 'password'],
    redirectUris: [REDIRECT],
    scopes: OIDC_SCOPES,
    tokenFormat: 'jwt',
  });
  const browser = await registerClient(tessera, { public: true, browser: true, redirectUris: [REDIRECT], scopes: OIDC_SCOPES });

  t.test('the code exchange: every claim, at_hash of the access token, nonce and sid of the sign-in', async (t) => {
    const authTime = new Date(Date.now() - 42_000);
    const grant = await codeFor(server, spa, user.id, { nonce: 'n-0S6_WzA2Mj', authTime, sessionId: 'session-1' });
    const res = await exchange(server, spa, grant);
    t.equal(res.statusCode, 200, res.body);
    t.match(res.body_, { token_type: 'Bearer', scope: 'openid profile email', refresh_token: /^tsr_/, access_token: /^tsa_/ });
    const claims = await verifyIdToken(t, server, res.body_.id_token, spa.id);
    t.same(
      Object.keys(claims).sort(),
      ['at_hash', 'aud', 'auth_time', 'azp', 'exp', 'iat', 'iss', 'nonce', 'sid', 'sub'],
      'exactly the claims of the design',
    );
    t.equal(claims.sub, user.id, 'sub: the user id');
    t.equal(claims.aud, spa.id, 'aud: the client id, one string');
    t.equal(claims.azp, spa.id);
    t.equal(claims.exp! - claims.iat!, 120, "exp: iat + the client's access token lifetime");
    t.ok(Math.abs(claims.iat! - Date.now() / 1000) < 5, 'iat: now');
    t.equal(claims.auth_time, Math.floor(authTime.getTime() / 1000), 'auth_time: the sign-in, not the exchange');
    t.equal(claims.nonce, 'n-0S6_WzA2Mj', "nonce: the authorization request's");
    t.equal(claims.sid, 'session-1', 'sid: the browser session');
    t.equal(claims.at_hash, expectedAtHash(res.body_.access_token as string), 'at_hash binds the access token');
    t.equal(res.headers['cache-control'], 'no-store');

    const asAccessToken = await post(app, '/token/verify', { token: res.body_.id_token as string });
    t.equal(asAccessToken.statusCode, 401, 'an ID token is no access token at /token/verify');
    const atUserinfo = await app.inject({
      method: 'GET',
      url: '/userinfo',
      headers: { authorization: `Bearer ${String(res.body_.id_token)}` },
    });
    t.equal(atUserinfo.statusCode, 401, 'nor at /userinfo');
  });

  t.test('no nonce, no session: neither claim; a code without a sign-in time counts from the exchange', async (t) => {
    const res = await exchange(server, spa, await codeFor(server, spa, user.id));
    t.equal(res.statusCode, 200, res.body);
    const claims = await verifyIdToken(t, server, res.body_.id_token, spa.id);
    t.notOk('nonce' in claims, 'no nonce');
    t.notOk('sid' in claims, 'no sid');
    t.ok(Math.abs((claims.auth_time as number) - Date.now() / 1000) < 5, 'auth_time: now');
  });

  t.test('without openid in the granted scope there is no ID token', async (t) => {
    const res = await exchange(server, spa, await codeFor(server, spa, user.id, { scope: 'profile read' }));
    t.equal(res.statusCode, 200, res.body);
    t.notOk('id_token' in res.body_, 'no id_token');
    const refreshed = await tokenRequest(app, spa, { grant_type: 'refresh_token', refresh_token: res.body_.refresh_token as string });
    t.equal(refreshed.statusCode, 200);
    t.notOk('id_token' in refreshed.body_, 'nor on refresh');
  });

  t.test('refresh: a new ID token of the same sign-in, without the nonce, bound to the new access token', async (t) => {
    const authTime = new Date(Date.now() - 7_000);
    const first = await exchange(
      server,
      spa,
      await codeFor(server, spa, user.id, { nonce: 'first-nonce', authTime, sessionId: 'session-2' }),
    );
    const before = await verifyIdToken(t, server, first.body_.id_token, spa.id);
    // A whole second later, so that the new token's iat differs.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const refreshed = await post(app, '/token/refresh', { client_id: spa.id, refresh_token: first.body_.refresh_token as string });
    t.equal(refreshed.statusCode, 200, refreshed.body);
    const after = await verifyIdToken(t, server, refreshed.body_.id_token, spa.id);
    t.equal(after.sub, before.sub, 'same sub');
    t.equal(after.auth_time, before.auth_time, 'same auth_time');
    t.equal(after.sid, 'session-2', 'same sid');
    t.notOk('nonce' in after, 'no nonce on refresh (Core §12.2)');
    t.ok(after.iat! > before.iat!, 'a new iat');
    t.equal(after.at_hash, expectedAtHash(refreshed.body_.access_token as string), 'at_hash of the new access token');

    const narrowed = await tokenRequest(app, spa, {
      grant_type: 'refresh_token',
      refresh_token: refreshed.body_.refresh_token as string,
      scope: 'profile',
    });
    t.equal(narrowed.statusCode, 200, narrowed.body);
    t.equal(narrowed.body_.scope, 'profile');
    await verifyIdToken(t, server, narrowed.body_.id_token, spa.id);
    t.pass('a refresh narrowed below openid still gets one: the grant was an OpenID Connect sign-in');
  });

  t.test('a JWT client: at_hash over the JWT access token', async (t) => {
    const res = await exchange(server, jwtClient, await codeFor(server, jwtClient, user.id));
    t.equal(res.statusCode, 200, res.body);
    t.equal(decodeProtectedHeader(res.body_.access_token as string).typ, 'at+jwt');
    const claims = await verifyIdToken(t, server, res.body_.id_token, jwtClient.id);
    t.equal(claims.at_hash, expectedAtHash(res.body_.access_token as string));
    t.type(decodeJwt(res.body_.access_token as string).sid, 'string', "the access token's sid: its grant");
    t.notOk('sid' in claims, 'the ID token has none: the code came from no browser session');
  });

  t.test('the password grant never gets one, even with openid, nor by refreshing', async (t) => {
    const res = await tokenRequest(app, jwtClient, { grant_type: 'password', username, password, scope: 'openid profile' });
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.body_.scope, 'openid profile');
    t.notOk('id_token' in res.body_, 'no id_token');
    const refreshed = await tokenRequest(app, jwtClient, { grant_type: 'refresh_token', refresh_token: res.body_.refresh_token as string });
    t.equal(refreshed.statusCode, 200, refreshed.body);
    t.notOk('id_token' in refreshed.body_, 'no id_token on refresh either');
  });

  t.test('a browser client gets the ID token in the body, the refresh token only as its cookie', async (t) => {
    const res = await exchange(server, browser, await codeFor(server, browser, user.id), { origin: 'https://app.example.com' });
    t.equal(res.statusCode, 200, res.body);
    t.notOk('refresh_token' in res.body_, 'no refresh token in the body');
    await verifyIdToken(t, server, res.body_.id_token, browser.id);
  });
});

t.test('verifyHint: id_token_hint for /logout', async (t) => {
  const server = await startTessera(t);
  const { tessera } = server;
  const { user } = await registerUser(tessera);
  const spa = await registerClient(tessera, { public: true, redirectUris: [REDIRECT], scopes: OIDC_SCOPES });
  const jwtClient = await registerClient(tessera, { tokenFormat: 'jwt', scopes: ['openid'] });
  const issued = await exchange(server, spa, await codeFor(server, spa, user.id, { sessionId: 'session-9', authTime: new Date() }));
  const idToken = issued.body_.id_token as string;
  const hints = tessera.idTokens;

  t.same(await hints.verifyHint(idToken), { sub: user.id, clientId: spa.id, sessionId: 'session-9' }, 'a fresh ID token');
  const noSession = await exchange(server, spa, await codeFor(server, spa, user.id));
  t.same(await hints.verifyHint(noSession.body_.id_token as string), { sub: user.id, clientId: spa.id, sessionId: null }, 'no sid: null');

  const now = Math.floor(Date.now() / 1000);
  const base = {
    iss: ISSUER,
    sub: user.id,
    aud: spa.id,
    azp: spa.id,
    iat: now - 60,
    exp: now + 60,
    auth_time: now - 60,
    at_hash: 'x',
    sid: 's',
  };
  const { kid, key } = tessera.keys.signingKey();
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid, ...header }).sign(key);
  t.same(
    await hints.verifyHint(await sign({ ...base, iat: now - 7200, exp: now - 3600 })),
    { sub: user.id, clientId: spa.id, sessionId: 's' },
    'an expired one is still a hint (RP-Initiated Logout 1.0 §2)',
  );

  const foreign = await generateKeyPair('ES256');
  const foreignToken = await new SignJWT(base).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(foreign.privateKey);
  const [head, body, signature] = idToken.split('.') as [string, string, string];
  const otherClaims = Buffer.from(JSON.stringify({ ...decodeJwt(idToken), sub: 'someone-else' })).toString('base64url');
  const accessToken = (await tokenRequest(server.app, jwtClient, { grant_type: 'client_credentials' })).body_.access_token as string;
  t.equal(decodeProtectedHeader(accessToken).typ, 'at+jwt');
  const hmacKey = new TextEncoder().encode('a shared secret of thirty-two bytes!');
  const refused: Record<string, string> = {
    'issued in the future': await sign({ ...base, iat: now + 3600, exp: now + 7200 }),
    'tampered claims': `${head}.${otherClaims}.${signature}`,
    'tampered signature': `${head}.${body}.${signature.slice(0, -4)}${signature.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`,
    'a foreign key under our kid': foreignToken,
    'an unknown kid': await sign(base, { kid: 'no-such-kid' }),
    'no kid': await new SignJWT(base).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(key),
    'an access token (at+jwt)': accessToken,
    'an access token signed like an ID token but typed at+jwt': await sign(base, { typ: 'at+jwt' }),
    'another issuer': await sign({ ...base, iss: 'https://evil.example' }),
    'aud an array': await sign({ ...base, aud: [spa.id, 'other'] }),
    'no sub': await sign({ ...base, sub: undefined }),
    'sub not a string': await sign({ ...base, sub: 42 }),
    'no iat': await sign({ ...base, iat: undefined }),
    'sid not a string': await sign({ ...base, sid: ['s'] }),
    HS256: await new SignJWT(base).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid }).sign(hmacKey),
    'alg none': `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid })).toString('base64url')}.${body}.`,
    'not JSON inside': `${head}.${Buffer.from('not json').toString('base64url')}.${signature}`,
    empty: '',
    garbage: 'a.b.c',
    huge: `${head}.${'A'.repeat(10_000)}.${signature}`,
    'a refresh token': issued.body_.refresh_token as string,
  };
  for (const [name, token] of Object.entries(refused)) t.equal(await hints.verifyHint(token), null, `${name}: no hint`);

  // A retired key still verifies the hints it signed while it is published; a revoked one not.
  await tessera.rotateKeys();
  t.ok(await hints.verifyHint(idToken), 'after a rotation, still a hint');
  await tessera.revokeKey(kid);
  t.equal(await hints.verifyHint(idToken), null, 'its key revoked: no hint');
});

t.test('a relying party (openid-client) accepts the ID tokens, the refresh and /userinfo', async (t) => {
  const server = await listeningTessera(t);
  const { tessera, issuer } = server;
  const user = await tessera.users.create('alice', 'alice@example.com', 'correct horse battery', { name: 'Alice' });
  const spa = await registerClient(tessera, { public: true, redirectUris: [REDIRECT], scopes: OIDC_SCOPES });
  // Discovery from /.well-known/openid-configuration; ID token signatures checked against jwks_uri.
  const config = await oidc.discovery(new URL(issuer), spa.id, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks],
  });
  const nonce = oidc.randomNonce();
  const authTime = new Date(Date.now() - 5_000);
  const { code, verifier } = await codeFor(server, spa, user.id, { nonce, authTime, sessionId: 'session-rp' });
  // The redirect as /authorize sends it (RFC 9207: with iss).
  const callback = new URL(`${REDIRECT}?${new URLSearchParams({ code, iss: issuer })}`);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, maxAge: 3600 });
  const claims = tokens.claims()!;
  t.match(claims, { iss: issuer, sub: user.id, aud: spa.id, nonce, sid: 'session-rp', auth_time: Math.floor(authTime.getTime() / 1000) });
  t.same(await oidc.fetchUserInfo(config, tokens.access_token, user.id), {
    sub: user.id,
    preferred_username: 'alice',
    name: 'Alice',
    email: 'alice@example.com',
    email_verified: false,
  });
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  t.match(
    refreshed.claims(),
    { sub: user.id, auth_time: claims.auth_time, sid: 'session-rp' },
    'the refreshed ID token passes its checks too',
  );
  t.notOk('nonce' in refreshed.claims()!, 'and has no nonce');
});
