// /token/verify and audiences (RFC 9068 §4, RFC 9700 §2.3): every answer names the token's
// audience, and a service that says which audience it is gets invalid_token for a token minted
// for another one.
import t, { type Test } from 'tap';
import { decodeJwt } from 'jose';
import { basic, ISSUER, post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';

const API = 'https://api.example.com';
const OTHER_API = 'https://other.example.com';

t.test('verify and audiences', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const jwt = await registerClient(tessera, {
    grants: ['password', 'client_credentials'],
    scopes: ['read'],
    tokenFormat: 'jwt',
    audience: API,
  });
  const opaque = await registerClient(tessera, { grants: ['password', 'client_credentials'], scopes: ['read'], audience: API });
  const plain = await registerClient(tessera, { scopes: ['read'] });
  const introspector = await registerClient(tessera, { introspect: true });
  const accessToken = async (client: { id: string; secret?: string }) =>
    (await tokenRequest(app, client, { grant_type: 'client_credentials' })).body_.access_token as string;

  const verify = (form: Record<string, string>, headers: Record<string, string> = {}) => post(app, '/token/verify', form, { headers });
  const isInvalidToken = (t: Test, res: Awaited<ReturnType<typeof verify>>, what: string) => {
    t.equal(res.statusCode, 401, `${what}: 401`);
    t.equal(res.body_.error, 'invalid_token', `${what}: invalid_token`);
    t.match(res.headers['www-authenticate'], /^Bearer error="invalid_token"/, `${what}: a Bearer challenge`);
  };

  for (const [format, client] of [
    ['JWT', jwt],
    ['opaque', opaque],
  ] as const) {
    t.test(`a ${format} token minted for ${API}`, async (t) => {
      const token = await accessToken(client);
      const res = await verify({ token });
      t.equal(res.statusCode, 200);
      t.same(
        res.body_,
        { active: true, sub: client.id, client_id: client.id, scope: 'read', exp: res.body_.exp, aud: API, token_type: 'Bearer' },
        'exactly the contract: aud included',
      );
      t.type(res.body_.exp, 'number');
      if (format === 'JWT') t.equal(res.body_.aud, decodeJwt(token).aud, "a JWT's own aud claim");

      t.equal((await verify({ token, audience: API })).statusCode, 200, 'valid for its own audience');
      isInvalidToken(t, await verify({ token, audience: OTHER_API }), 'another audience');
      isInvalidToken(t, await verify({ token, audience: ISSUER }), 'the issuer is not its audience');
      isInvalidToken(t, await verify({ token, audience: `${API}/` }), 'compared exactly, not as a prefix');

      const bearer = await verify({ audience: API }, { authorization: `Bearer ${token}` });
      t.equal(bearer.statusCode, 200, 'the token in the header, the audience in the body');
      t.equal(bearer.body_.aud, API);
      isInvalidToken(t, await verify({ audience: OTHER_API }, { authorization: `Bearer ${token}` }), 'header token, another audience');

      const json = await post(app, '/token/verify', { token, audience: OTHER_API }, { json: true });
      isInvalidToken(t, json, 'a JSON body');
    });
  }

  t.test('an opaque token of a client without --audience: the issuer is its audience', async (t) => {
    const token = await accessToken(plain);
    const res = await verify({ token });
    t.equal(res.statusCode, 200);
    t.equal(res.body_.aud, ISSUER);
    t.equal((await verify({ token, audience: ISSUER })).statusCode, 200);
    isInvalidToken(t, await verify({ token, audience: API }), 'an API audience');
  });

  t.test('a user token carries its client audience too', async (t) => {
    for (const client of [jwt, opaque]) {
      const tokens = (await tokenRequest(app, client, { grant_type: 'password', username, password })).body_;
      const res = await verify({ token: tokens.access_token as string, audience: API });
      t.equal(res.statusCode, 200);
      t.match(res.body_, { sub: String, client_id: client.id, aud: API });
      t.not(res.body_.sub, client.id, 'the user is the subject');
    }
  });

  t.test('introspection names the audience of opaque and JWT tokens', async (t) => {
    const as = { headers: { authorization: basic(introspector.id, introspector.secret!) } };
    for (const [client, aud] of [
      [opaque, API],
      [jwt, API],
      [plain, ISSUER],
    ] as const) {
      const res = await post(app, '/introspect', { token: await accessToken(client) }, as);
      t.match(res.body_, { active: true, client_id: client.id, aud });
    }
  });

  t.test('an unknown or malformed token stays invalid_token with or without an audience', async (t) => {
    isInvalidToken(t, await verify({ token: `tsa_${'A'.repeat(43)}`, audience: API }), 'unknown opaque');
    isInvalidToken(t, await verify({ token: 'not-a-token', audience: API }), 'malformed');
    const none = await verify({ audience: API });
    t.equal(none.statusCode, 401);
    t.equal(none.body_.error, 'invalid_request', 'an audience without a token is still no token');
  });
});
