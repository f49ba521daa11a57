// Revoking a signing key (security review finding 19): it leaves the key set at once and the
// tokens it signed stop verifying, on this instance at once and on another within a second or two.
import t from 'tap';
import { post, registerClient, startTessera, tokenRequest } from './helpers/harness.ts';

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
};

t.test('a revoked key leaves the set, and its tokens stop verifying everywhere', async (t) => {
  const a = await startTessera(t);
  const b = await startTessera(t, { db: a.db });
  const client = await registerClient(a.tessera, { tokenFormat: 'jwt' });
  const token = (await tokenRequest(a.app, client, { grant_type: 'client_credentials' })).body_.access_token as string;
  const verifies = async (app: typeof a.app, jwt: string) => (await post(app, '/token/verify', { token: jwt })).statusCode === 200;
  const published = async (app: typeof a.app) =>
    (JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body) as { keys: { kid: string }[] }).keys.map(
      (k) => k.kid,
    );
  t.ok(await verifies(a.app, token));
  t.ok(await verifies(b.app, token), 'the other instance has verified (and remembered) it too');
  const kid = a.tessera.keys.signingKey().kid;

  t.equal(await a.tessera.revokeKey(kid), true);
  t.not(a.tessera.keys.signingKey().kid, kid, 'a new key signs');
  t.notOk((await published(a.app)).includes(kid), 'gone from the key set at once');
  t.notOk(await verifies(a.app, token), 'its token no longer verifies here');
  t.ok(await until(async () => !(await verifies(b.app, token))), 'nor, within a few seconds, on the other instance');
  t.notOk((await published(b.app)).includes(kid));

  const fresh = (await tokenRequest(a.app, client, { grant_type: 'client_credentials' })).body_.access_token as string;
  t.ok(await verifies(a.app, fresh), 'tokens of the new key verify');
  t.ok(await until(() => verifies(b.app, fresh)), 'on the other instance too');
  t.equal(await a.tessera.revokeKey(kid), false, 'a key already revoked is not found again');
  t.equal(await a.tessera.revokeKey('no-such-kid'), false);
});

t.test('no kid starts with "-": `tessera keys revoke <kid>` would read it as an option', async (t) => {
  const { tessera } = await startTessera(t);
  // Each kid is a thumbprint: one in 64 would start with '-' if nothing prevented it; 300 rotations
  // meet one with a probability of 99 %.
  const kids = new Set<string>();
  for (let i = 0; i < 300; i++) kids.add(await tessera.keys.rotate(60));
  t.equal(kids.size, 300);
  t.same(
    [...kids].filter((kid) => kid.startsWith('-')),
    [],
  );
});
