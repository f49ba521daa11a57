// Key rotation without restart, and several instances sharing one database.
import t from 'tap';
import { decodeProtectedHeader } from 'jose';
import { basic, post, registerClient, registerUser, startTessera, testDatabase, tokenRequest } from './helpers/harness.ts';

const jwksOf = async (app: Awaited<ReturnType<typeof startTessera>>['app']) =>
  JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body) as { keys: { kid: string }[] };

/** Polls until `check` holds; returns how long it took, or fails after `limitMs`. */
async function within(limitMs: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > limitMs) throw new Error(`not seen within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

t.test('key rotation', async (t) => {
  const db = await testDatabase(t);
  const a = await startTessera(t, { db });
  const b = await startTessera(t, { db });
  const client = await registerClient(a.tessera, { tokenFormat: 'jwt', accessTtl: 120 });
  const before = (await tokenRequest(a.app, client, { grant_type: 'client_credentials' })).body_.access_token as string;
  const oldKid = decodeProtectedHeader(before).kid!;
  t.same(
    (await jwksOf(a.app)).keys.map((k) => k.kid),
    [oldKid],
  );

  const newKid = await a.tessera.rotateKeys();
  t.not(newKid, oldKid);
  const after = (await tokenRequest(a.app, client, { grant_type: 'client_credentials' })).body_.access_token as string;
  t.equal(decodeProtectedHeader(after).kid, newKid, 'the new key signs from now on');
  t.equal((await post(a.app, '/token/verify', { token: before })).statusCode, 200, 'a token of the old key still verifies');
  t.same((await jwksOf(a.app)).keys.map((k) => k.kid).sort(), [oldKid, newKid].sort(), 'the JWKS holds both keys');

  await within(1000, async () => (await jwksOf(b.app)).keys.some((k) => k.kid === newKid));
  const fromB = (await tokenRequest(b.app, client, { grant_type: 'client_credentials' })).body_.access_token as string;
  t.equal(decodeProtectedHeader(fromB).kid, newKid, 'the other instance signs with the new key without restart');
  t.equal((await post(b.app, '/token/verify', { token: after })).statusCode, 200);

  const retired = a.tessera.keys.list().find((k) => k.kid === oldKid)!;
  t.ok(retired.publishUntil, 'the old key has an end of publication');
  t.ok(retired.publishUntil!.getTime() >= Date.now() + 120_000, 'no earlier than its last token expires');
  const later = retired.publishUntil!.getTime() + 1;
  t.same(
    a.tessera.keys.jwks(later).keys.map((k) => k.kid),
    [newKid],
    'after that, it leaves the JWKS',
  );
  t.equal(a.tessera.keys.verifyKey(oldKid, later), undefined, 'and verifies nothing');
});

t.test('a change made through one instance is honoured by another within a second', async (t) => {
  const db = await testDatabase(t);
  const a = await startTessera(t, { db });
  const b = await startTessera(t, { db });
  const { username, password } = await registerUser(a.tessera);
  const opaque = await registerClient(a.tessera, { grants: ['password'] });
  const jwt = await registerClient(a.tessera, { grants: ['password'], tokenFormat: 'jwt' });
  const login = async (c: typeof opaque) =>
    (await tokenRequest(a.app, c, { grant_type: 'password', username, password })).body_ as Record<string, string>;
  const activeAtB = async (token: string) => (await post(b.app, '/token/verify', { token })).statusCode === 200;

  for (const [format, client] of [
    ['opaque', opaque],
    ['jwt', jwt],
  ] as const) {
    const tokens = await login(client);
    t.ok(await activeAtB(tokens.access_token!), `${format}: B sees the token (and caches it)`);
    t.ok(await activeAtB(tokens.access_token!), `${format}: again, from its cache`);
    await post(a.app, '/revoke', { token: tokens.access_token! }, { headers: { authorization: basic(client.id, client.secret!) } });
    t.notOk((await post(a.app, '/token/verify', { token: tokens.access_token! })).statusCode === 200, `${format}: A honours it at once`);
    const ms = await within(1000, async () => !(await activeAtB(tokens.access_token!)));
    t.pass(`${format}: B honoured the revocation after ${ms} ms`);
  }

  const tokens = await login(opaque);
  t.ok(await activeAtB(tokens.access_token!));
  await a.tessera.users.setActive(username, false);
  const ms = await within(1000, async () => !(await activeAtB(tokens.access_token!)));
  t.pass(`B honoured the deactivation after ${ms} ms`);
});
