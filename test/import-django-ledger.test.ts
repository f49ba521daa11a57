// What an import remembers: a deleted user, a revoked key or a deleted client is not brought back
// by a later import; a pk under another username (another Django database) and a natural key
// naming a user Tessera did not import are refused; a secret that looks hashed never becomes the
// secret; discovery learns the grants of imported clients at once.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { isProblem, startAdmin, type AdminRunning } from './helpers/admin.ts';
import { DumpError } from '../src/domain/django-import.ts';
import { basic, post, registerClient, registerUser, tokenRequest } from './helpers/harness.ts';

/** The native bcrypt package has no types of its own: the one call used here, typed. */
const bcrypt = createRequire(import.meta.url)('bcrypt') as { hash(data: string, rounds: number): Promise<string> };

const drfKey = () => randomBytes(20).toString('hex');
const user = (pk: number, username: string, extra: Record<string, unknown> = {}) => ({
  model: 'auth.user',
  pk,
  fields: { password: '!', username, email: '', is_active: true, ...extra },
});
const token = (key: string, userRef: unknown) => ({ model: 'authtoken.token', pk: key, fields: { user: userRef } });
const application = (clientId: string, fields: Record<string, unknown>) => ({
  model: 'oauth2_provider.application',
  pk: 1,
  fields: { client_id: clientId, name: clientId, redirect_uris: '', ...fields },
});

async function importing(server: AdminRunning, records: unknown[], tokenClient?: string) {
  return server.call('POST', '/import/django', {
    dump: JSON.stringify(records, null, 2),
    ...(tokenClient && { token_client: tokenClient }),
  });
}

const verifies = async (server: AdminRunning, key: string) =>
  (await post(server.app, '/token/verify', {}, { headers: { authorization: `Token ${key}` } })).statusCode === 200;

t.test('what was imported once is never brought back', async (t) => {
  const server = await startAdmin(t);
  const tokenClient = await registerClient(server.tessera, { name: 'legacy drf' });
  const [kept, revoked, ofDeleted] = [drfKey(), drfKey(), drfKey()];
  const dump = [user(1, 'ann'), user(2, 'bob'), token(kept, 1), token(revoked, 1), token(ofDeleted, 2)];
  t.equal((await importing(server, dump, tokenClient.id)).status, 200);

  await post(server.app, '/revoke', { token: revoked }, { headers: { authorization: basic(tokenClient.id, tokenClient.secret!) } });
  t.equal((await server.call('DELETE', '/users/bob')).status, 204);
  const again = await importing(server, dump, tokenClient.id);
  t.same(
    [again.body.users, again.body.tokens],
    [
      { created: 0, unchanged: 2 },
      { created: 0, unchanged: 3 },
    ],
    'all unchanged',
  );
  t.equal((await server.call('GET', '/users/bob')).status, 404, 'the deleted user stays deleted');
  t.notOk(await verifies(server, revoked), 'the revoked key stays revoked');
  t.notOk(await verifies(server, ofDeleted), "the deleted user's key is not back");
  t.ok(await verifies(server, kept));

  const newKey = drfKey();
  const late = await importing(server, [token(newKey, 2)], tokenClient.id);
  t.equal(late.status, 200, 'a new key for a user deleted since does not stop the import');
  t.match(late.body.warnings, [{ record: 1, message: /deleted in Tessera since: not imported/ }]);
  t.same(late.body.tokens, { created: 0, unchanged: 0 });
  t.notOk(await verifies(server, newKey));

  // A dump of another Django database: its pk 1 is someone else.
  const other = await importing(server, [user(1, 'zoe'), token(drfKey(), 1)], tokenClient.id);
  isProblem(t, other, 400, 'a pk under another username');
  t.match(other.body.problems, [{ record: 1, model: 'auth.user', pk: 1, message: /imported before under another username than "zoe"/ }]);
  t.equal((await server.call('GET', '/users/zoe')).status, 404);

  const app = [
    application('dotapp', {
      client_type: 'public',
      authorization_grant_type: 'authorization-code',
      redirect_uris: 'https://app.example.com/cb',
    }),
  ];
  t.same((await importing(server, app)).body.clients, { created: 1, unchanged: 0 });
  t.equal((await server.call('DELETE', '/clients/dotapp')).status, 204);
  t.same((await importing(server, app)).body.clients, { created: 0, unchanged: 1 }, 'a deleted client is not brought back');
  t.equal((await server.call('GET', '/clients/dotapp')).status, 404);
});

t.test('a natural key names a user of the same dump, never one Tessera did not import', async (t) => {
  const server = await startAdmin(t);
  const tokenClient = await registerClient(server.tessera, { name: 'legacy drf' });
  await registerUser(server.tessera, 'root');
  const key = drfKey();
  const refused = await importing(server, [token(key, ['root'])], tokenClient.id);
  isProblem(t, refused, 400, 'a natural key to a user not in the dump');
  t.notOk(await verifies(server, key), 'the key did not become root’s');
  const inDump = drfKey();
  t.equal((await importing(server, [user(5, 'cy'), token(inDump, ['cy'])], tokenClient.id)).status, 200);
  t.equal((await post(server.app, '/token/verify', { token: inDump })).body_.sub, (await server.tessera.users.get('cy')).id);
  const taken = await importing(server, [user(6, 'ROOT')]);
  t.match(taken.body.problems, [{ message: /taken in Tessera by "root"/ }], 'a native username, in another case');
});

t.test('a secret that looks hashed is never the secret; discovery learns imported grants at once', async (t) => {
  const server = await startAdmin(t);
  const before = (await server.app.inject('/.well-known/oauth-authorization-server')).json() as { grant_types_supported: string[] };
  t.notOk(before.grant_types_supported.includes('password'));
  const hashed = 'md5$salty$0123456789abcdef0123456789abcdef';
  const imported = await importing(server, [
    application('weak', { client_type: 'confidential', authorization_grant_type: 'password', client_secret: hashed }),
    application('clear', {
      client_type: 'confidential',
      authorization_grant_type: 'client-credentials',
      client_secret: 'Cl3arSecretFromDot1x',
    }),
  ]);
  t.same(imported.body.clients_to_rotate, ['weak']);
  t.equal((await server.call('GET', '/clients/weak')).body.secret_must_rotate, true);
  const withHash = await tokenRequest(server.app, { id: 'weak', secret: hashed }, { grant_type: 'password', username: 'x', password: 'y' });
  t.equal(withHash.statusCode, 401, 'the stored hash does not authenticate');
  const clear = await tokenRequest(server.app, { id: 'clear', secret: 'Cl3arSecretFromDot1x' }, { grant_type: 'client_credentials' });
  t.equal(clear.statusCode, 200, 'a clear DOT 1.x secret works as it was');
  const after = (await server.app.inject('/.well-known/oauth-authorization-server')).json() as { grant_types_supported: string[] };
  t.ok(after.grant_types_supported.includes('password'), 'discovery lists the imported grant');

  const rotated = await server.call('POST', '/clients/weak/secret', { grace_seconds: 60 });
  t.equal(rotated.body.previous_secret_expires_at, null, 'a secret that never worked gets no grace');
  t.equal(
    (
      await tokenRequest(
        server.app,
        { id: 'weak', secret: rotated.body.client_secret },
        { grant_type: 'password', username: 'x', password: 'y' },
      )
    ).body_.error,
    'invalid_grant',
    'the new secret authenticates (the user is what is wrong)',
  );
});

t.test('bad text is refused before anything is written, on both databases', async (t) => {
  const server = await startAdmin(t);
  const nul = await importing(server, [user(1, 'nul', { email: 'a\u0000b@example.com' }), application('a\u0000', {})]);
  isProblem(t, nul, 400, 'NUL in an email and a client_id');
  t.match(nul.body.problems, [
    { record: 1, message: /NUL/ },
    { record: 2, message: /NUL/ },
  ]);
  const control = await server.tessera.adminServices.djangoImport
    .run(JSON.stringify([user(2, 'tab', { email: 'a\tb@example.com' })]))
    .catch((e: unknown) => e);
  t.match((control as DumpError).problems, [{ record: 1, message: /email/ }], 'a control character in an email');
  const named = await importing(server, [
    application('named', {
      client_type: 'public',
      authorization_grant_type: 'authorization-code',
      redirect_uris: 'https://x.example/cb',
      name: 'a\u0007b',
    }),
  ]);
  t.match(named.body.problems, [{ message: /control characters/ }], 'a control character in a client name');
  for (const id of ['.', '..', '-x']) t.equal((await importing(server, [application(id, {})])).status, 400, `client_id "${id}"`);
  const bom = await server.call('POST', '/import/django', { dump: `\uFEFF[\n${JSON.stringify(user(1, 'has space'))}\n]` });
  t.match(bom.body.problems, [{ line: 2, record: 1 }], 'a byte order mark shifts no line');
  t.equal((await server.call('GET', '/users')).body.items.length, 0, 'no user was written');
});

t.test('failed sign-ins last as long as the slowest imported hash still awaiting its upgrade', async (t) => {
  const server = await startAdmin(t);
  const pw = await registerClient(server.tessera, { name: 'app', grants: ['password'] });
  await server.tessera.users.measureFailureFloor();
  t.equal(server.tessera.users.failureFloor, 0, 'no imported hash: no padding');
  const password = 'a Django password';
  // Django's BCryptPasswordHasher: "bcrypt$" before bcrypt's own string.
  const hash = `bcrypt$${await bcrypt.hash(password, 10)}`;
  t.equal((await importing(server, [user(1, 'ida', { password: hash })])).status, 200);
  await server.tessera.users.measureFailureFloor();
  t.ok(server.tessera.users.failureFloor > 0, 'an imported bcrypt hash sets the floor');
  const signIn = await tokenRequest(server.app, pw, { grant_type: 'password', username: 'ida', password });
  t.equal(signIn.statusCode, 200, 'the user signs in with the password Django had');
  await server.tessera.users.measureFailureFloor();
  t.equal(server.tessera.users.failureFloor, 0, 'once upgraded, nothing is left to pad for');
});
