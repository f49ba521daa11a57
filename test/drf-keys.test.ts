// Django REST framework keys brought over by the import are access tokens like any other: at
// /token/verify (as `Token` and `Bearer`), /introspect, /revoke, in @tessera/verify, through the
// admin API's import route, and on every instance at once — a key presented before its import is
// not remembered as unknown afterwards.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { TokenError } from '@tessera/verify';
import { isProblem, startAdmin, type AdminRunning } from './helpers/admin.ts';
import { basic, post, registerClient, startTessera, type Running } from './helpers/harness.ts';
import { listeningTessera, rejection, verifierFor, within } from './helpers/verify-kit.ts';

const drfKey = () => randomBytes(20).toString('hex');

/** A dump as `manage.py dumpdata --indent 2` writes it: one user, one DRF key per entry of `keys`. */
function dump(pk: number, username: string, keys: string[]): string {
  const user = {
    model: 'auth.user',
    pk,
    fields: { password: '!unusable', username, first_name: '', last_name: '', email: `${username}@example.com`, is_active: true },
  };
  const tokens = keys.map((key) => ({ model: 'authtoken.token', pk: key, fields: { user: pk, created: '2024-01-01T00:00:00Z' } }));
  return JSON.stringify([user, ...tokens], null, 2);
}

const verify = (server: Running, headers: Record<string, string>, form: Record<string, string> = {}) =>
  post(server.app, '/token/verify', form, { headers });

t.test('an imported key through the admin API, at every endpoint', async (t) => {
  const server: AdminRunning = await startAdmin(t);
  const tokenClient = await registerClient(server.tessera, { name: 'legacy drf', scopes: ['read', 'write'] });
  const other = await startTessera(t, { db: server.db });
  const [key, second] = [drfKey(), drfKey()];

  // Asked about before it exists, on both instances: each remembers it as unknown.
  for (const instance of [server, other]) t.equal((await verify(instance, { authorization: `Token ${key}` })).statusCode, 401);

  const dry = await server.call('POST', '/import/django', {
    dump: dump(7, 'dana', [key, second]),
    token_client: tokenClient.id,
    dry_run: true,
  });
  t.equal(dry.status, 200);
  t.same(dry.body.tokens, { created: 2, unchanged: 0 }, 'a dry run counts');
  t.equal((await verify(server, { authorization: `Token ${key}` })).statusCode, 401, 'and writes nothing');

  const imported = await server.call('POST', '/import/django', { dump: dump(7, 'dana', [key, second]), token_client: tokenClient.id });
  t.equal(imported.status, 200);
  t.same(imported.body, {
    dry_run: false,
    users: { created: 1, unchanged: 0 },
    tokens: { created: 2, unchanged: 0 },
    clients: { created: 0, unchanged: 0 },
    clients_to_rotate: [],
    warnings: [],
  });

  const answer = await verify(server, { authorization: `Token ${key}` });
  t.equal(answer.statusCode, 200, 'the key works at once on the instance that imported it');
  t.match(answer.body_, { active: true, client_id: tokenClient.id, scope: 'read write', token_type: 'Bearer' });
  const dana = await server.tessera.users.get('dana');
  t.equal(answer.body_.sub, dana.id, 'for the imported user');
  t.ok(
    await within(2000, async () => (await verify(other, { authorization: `Token ${key}` })).statusCode === 200),
    'and on the other instance, which had remembered it as unknown, within a second or so',
  );
  t.equal((await verify(server, { authorization: `Bearer ${key}` })).statusCode, 200, 'as Bearer');
  t.equal((await verify(server, {}, { token: key })).statusCode, 200, 'in the body');
  t.equal((await verify(server, { authorization: `token  ${key}` })).statusCode, 200, 'the scheme in any case');
  for (const header of [`Token ${key} extra`, 'Token', `Token ${key.slice(1)}`]) {
    const bad = await verify(server, { authorization: header });
    t.equal(bad.statusCode, 401, `"${header.replace(key, 'KEY')}" is refused`);
    t.equal(bad.body_.error, 'invalid_token');
  }
  const twice = await verify(server, { authorization: `Token ${key}` }, { token: key });
  t.equal(twice.body_.error, 'invalid_request', 'a key in the header and the body is refused');

  const introspected = await post(
    server.app,
    '/introspect',
    { token: key },
    { headers: { authorization: basic(server.introspector.id, server.introspector.secret!) } },
  );
  t.match(
    introspected.body_,
    { active: true, client_id: tokenClient.id, sub: dana.id, username: 'dana', token_type: 'Bearer' },
    'introspection',
  );

  // RFC 7009 by the client the keys belong to.
  const revoked = await post(
    server.app,
    '/revoke',
    { token: key },
    { headers: { authorization: basic(tokenClient.id, tokenClient.secret!) } },
  );
  t.equal(revoked.statusCode, 200);
  t.equal((await verify(server, { authorization: `Token ${key}` })).statusCode, 401, 'a revoked key is refused');
  t.equal((await verify(server, { authorization: `Token ${second}` })).statusCode, 200, 'the other key goes on');

  // Deactivating the user ends every key they hold.
  t.equal((await server.call('PATCH', '/users/dana', { active: false })).status, 200);
  t.equal((await verify(server, { authorization: `Token ${second}` })).statusCode, 401, "a deactivated user's key is refused");

  const entry = (await server.call('GET', '/audit')).body.items.find((item: { action: string }) => item.action === 'import.django');
  t.match(entry, { actor: server.adminClient.id, details: { users: 1, tokens: 2, clients: 0 } }, 'the import is in the audit log');
  t.notOk(
    server.seen.some((body) => body.includes(key) || body.includes(second)),
    'no admin answer holds a key',
  );
});

t.test('the admin API refuses a bad dump whole, with every problem', async (t) => {
  const server = await startAdmin(t);
  const tokenClient = await registerClient(server.tessera, { name: 'legacy drf' });
  const key = drfKey();
  const records = JSON.parse(dump(3, 'erin', [key])) as unknown[];
  records.push({ model: 'authtoken.token', pk: drfKey(), fields: { user: 99 } }, { model: 'auth.group', pk: 1, fields: {} });
  const refused = await server.call('POST', '/import/django', { dump: JSON.stringify(records, null, 2), token_client: tokenClient.id });
  isProblem(t, refused, 400, 'a bad dump', /^2 problems in the dump; nothing was written$/);
  t.match(refused.body.problems, [
    { record: 3, model: 'authtoken.token', message: /no auth\.user with pk 99/ },
    { record: 4, model: 'auth.group', pk: 1, message: /unknown model/ },
  ]);
  t.same(
    refused.body.problems.map((p: { line: number }) => p.line),
    [22, 29],
    'the lines where the records start',
  );
  t.match(refused.body.problems[0].pk, /^[0-9a-f]{8}…$/, 'a key is shown shortened');
  t.notOk(refused.text.includes(key), 'never whole');
  t.equal((await verify(server, { authorization: `Token ${key}` })).statusCode, 401, 'the good records were not written');
  t.equal((await server.call('GET', '/users/erin')).status, 404);

  isProblem(
    t,
    await server.call('POST', '/import/django', { dump: dump(4, 'gil', [drfKey()]), token_client: 'nobody' }),
    404,
    'an unknown token client',
  );
  isProblem(t, await server.call('POST', '/import/django', { dump: '[]', extra: true }), 400, 'an unknown field');
  const notJson = await server.call('POST', '/import/django', { dump: '[\n{"model": ' });
  isProblem(t, notJson, 400, 'a dump that is not JSON');
  t.match(notJson.body.problems, [{ line: 2, record: null, message: /^not JSON/ }]);
});

t.test('@tessera/verify takes an imported key as an opaque token, and hears of its revocation', async (t) => {
  const server = await listeningTessera(t);
  const tokenClient = await registerClient(server.tessera, { name: 'legacy drf', scopes: ['read'] });
  const rs = await registerClient(server.tessera, { name: 'resource server', introspect: true });
  const key = drfKey();
  await server.tessera.adminServices.djangoImport.run(dump(11, 'frank', [key]), { tokenClient: tokenClient.id });
  const verifier = verifierFor(t, { issuer: server.issuer, introspection: { clientId: rs.id, clientSecret: rs.secret! } });
  const auth = await verifier.verify(key);
  t.match(auth, { client_id: tokenClient.id, scope: ['read'], token_type: 'Bearer' });
  t.equal(auth.sub, (await server.tessera.users.get('frank')).id);
  await server.tessera.users.revokeEverything('frank');
  t.ok(
    await within(1000, async () => (await rejection(verifier.verify(key))) instanceof TokenError),
    'refused within a second of the revocation',
  );
});

t.test('the admin API takes a dump larger than its other bodies may be', async (t) => {
  const server = await startAdmin(t);
  const tokenClient = await registerClient(server.tessera, { name: 'legacy drf' });
  const keys = Array.from({ length: 1000 }, drfKey);
  const text = dump(5, 'hana', keys);
  t.ok(text.length > 64 * 1024, 'over the 64 KiB of every other admin body');
  const imported = await server.call('POST', '/import/django', { dump: text, token_client: tokenClient.id });
  t.equal(imported.status, 200);
  t.same(imported.body.tokens, { created: 1000, unchanged: 0 });
  const again = await server.call('POST', '/import/django', { dump: text, token_client: tokenClient.id });
  t.same(
    [again.body.users, again.body.tokens],
    [
      { created: 0, unchanged: 1 },
      { created: 0, unchanged: 1000 },
    ],
    'and again, unchanged',
  );
  t.equal((await verify(server, { authorization: `Token ${keys[999]}` })).statusCode, 200);
});
