// A user's roles and groups reach services with their tokens: in JWT access tokens (RFC 9068
// §2.2.3.1, as they were at issue), at /token/verify and /introspect (as they are now, for opaque
// and JWT tokens alike), and through @tessera/verify; each list only when it is not empty.
import t from 'tap';
import { decodeJwt } from 'jose';
import { basic, post, registerClient, tokenRequest } from './helpers/harness.ts';
import { listeningTessera, verifierFor } from './helpers/verify-kit.ts';

const PASSWORD = 'correct horse battery';

t.test('roles and groups', async (t) => {
  const server = await listeningTessera(t);
  const { app, tessera, issuer } = server;
  const alice = await tessera.users.create('alice', undefined, PASSWORD, { roles: ['admin', 'editor'], groups: ['staff', 'ops team'] });
  const bob = await tessera.users.create('bob', undefined, PASSWORD, { roles: ['viewer'] });
  await tessera.users.create('carol', undefined, PASSWORD);
  const jwt = await registerClient(tessera, { grants: ['password', 'client_credentials'], scopes: ['read'], tokenFormat: 'jwt' });
  const opaque = await registerClient(tessera, { grants: ['password', 'client_credentials'], scopes: ['read'] });
  const resourceServer = await registerClient(tessera, { introspect: true });
  const introspector = { authorization: basic(resourceServer.id, resourceServer.secret!) };
  const signIn = async (client: { id: string; secret?: string }, username: string) => {
    const res = await tokenRequest(app, client, { grant_type: 'password', username, password: PASSWORD });
    if (res.statusCode !== 200) throw new Error(`sign-in: ${res.statusCode} ${res.body}`);
    return res.body_.access_token as string;
  };
  const verified = async (token: string) => (await post(app, '/token/verify', { token })).body_;
  const introspected = async (token: string) => (await post(app, '/introspect', { token }, { headers: introspector })).body_;

  const tokens = {
    aliceJwt: await signIn(jwt, 'alice'),
    aliceOpaque: await signIn(opaque, 'alice'),
    bobJwt: await signIn(jwt, 'bob'),
    carolJwt: await signIn(jwt, 'carol'),
    carolOpaque: await signIn(opaque, 'carol'),
    clientJwt: (await tokenRequest(app, jwt, { grant_type: 'client_credentials' })).body_.access_token as string,
    clientOpaque: (await tokenRequest(app, opaque, { grant_type: 'client_credentials' })).body_.access_token as string,
  };

  t.test('JWT access tokens carry the lists the user has, and only those', async (t) => {
    t.match(decodeJwt(tokens.aliceJwt), { sub: alice.id, roles: ['admin', 'editor'], groups: ['staff', 'ops team'] });
    const bobs = decodeJwt(tokens.bobJwt);
    t.same(bobs.roles, ['viewer']);
    t.notOk('groups' in bobs, 'no groups claim for a user without groups');
    const carols = decodeJwt(tokens.carolJwt);
    t.notOk('roles' in carols || 'groups' in carols, 'neither for a user with none');
    const clients = decodeJwt(tokens.clientJwt);
    t.notOk('roles' in clients || 'groups' in clients, "nor in a client's own token");
  });

  t.test('/token/verify and /introspect answer them, for opaque and JWT tokens alike', async (t) => {
    for (const token of [tokens.aliceJwt, tokens.aliceOpaque]) {
      t.match(await verified(token), { active: true, sub: alice.id, roles: ['admin', 'editor'], groups: ['staff', 'ops team'] });
      t.match(await introspected(token), { active: true, username: 'alice', roles: ['admin', 'editor'], groups: ['staff', 'ops team'] });
    }
    for (const token of [tokens.carolJwt, tokens.carolOpaque, tokens.clientJwt, tokens.clientOpaque]) {
      for (const answer of [await verified(token), await introspected(token)]) {
        t.equal(answer.active, true);
        t.notOk('roles' in answer || 'groups' in answer, 'no empty lists');
      }
    }
    const refresh = await tokenRequest(app, opaque, { grant_type: 'password', username: 'alice', password: PASSWORD });
    t.match(
      await introspected(refresh.body_.refresh_token as string),
      { token_type: 'refresh_token', roles: ['admin', 'editor'] },
      'a refresh token too',
    );
  });

  t.test('the server answers the lists as they are now; a JWT keeps what it was issued with', async (t) => {
    await tessera.users.update('alice', { roles: ['editor'], groups: [] });
    for (const token of [tokens.aliceJwt, tokens.aliceOpaque]) {
      const answer = await verified(token);
      t.same(answer.roles, ['editor'], 'the current roles');
      t.notOk('groups' in answer, 'groups emptied: left out');
      t.same((await introspected(token)).roles, ['editor']);
    }
    t.same(decodeJwt(tokens.aliceJwt).roles, ['admin', 'editor'], 'the JWT itself is unchanged');
    t.same(decodeJwt(await signIn(jwt, 'alice')).roles, ['editor'], 'a new JWT carries the new lists');
    t.notOk('groups' in decodeJwt(await signIn(jwt, 'alice')));
    await tessera.users.update('alice', { roles: ['admin', 'editor'], groups: ['staff', 'ops team'] });
  });

  t.test('a refresh puts the current lists into the new JWT', async (t) => {
    const first = await tokenRequest(app, jwt, { grant_type: 'password', username: 'bob', password: PASSWORD });
    await tessera.users.update('bob', { groups: ['night shift'] });
    const refreshed = await tokenRequest(app, jwt, { grant_type: 'refresh_token', refresh_token: first.body_.refresh_token as string });
    t.equal(refreshed.statusCode, 200, refreshed.body);
    t.match(decodeJwt(refreshed.body_.access_token as string), { sub: bob.id, roles: ['viewer'], groups: ['night shift'] });
  });

  t.test('@tessera/verify: from the JWT claims, and from introspection for opaque tokens', async (t) => {
    const verifier = verifierFor(t, { issuer, introspection: { clientId: resourceServer.id, clientSecret: resourceServer.secret! } });
    const fromJwt = await verifier.verify(tokens.aliceJwt);
    t.same(fromJwt.roles, ['admin', 'editor']);
    t.same(fromJwt.groups, ['staff', 'ops team']);
    const fromIntrospection = await verifier.verify(tokens.aliceOpaque);
    t.same(fromIntrospection.roles, ['admin', 'editor']);
    t.same(fromIntrospection.groups, ['staff', 'ops team']);
    for (const token of [tokens.carolJwt, tokens.carolOpaque, tokens.clientOpaque]) {
      const auth = await verifier.verify(token);
      t.equal(auth.roles, undefined, 'no roles');
      t.equal(auth.groups, undefined, 'no groups');
    }
  });
});
