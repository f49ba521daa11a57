// The rules behind the admin command's registrations: what is refused, and that a refusal
// changes nothing. (test/cli.test.ts checks that the command reports them.)
import t from 'tap';
import { AdminError } from '../src/domain/errors.ts';
import { issueAdminToken } from '../src/oauth/admin-token.ts';
import { startTessera } from './helpers/harness.ts';

t.test('registration rules', async (t) => {
  const { tessera } = await startTessera(t);
  // Any AdminError (its subclasses too: NoSuchError, RedirectUriError) is what the command reports.
  const refused = async (what: string, run: () => Promise<unknown>, message: RegExp) => {
    const error = await run().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    t.ok(error instanceof AdminError, `${what}: an AdminError`);
    t.match((error as Error | undefined)?.message, message, what);
  };

  await refused('unknown grant', () => tessera.clients.register({ name: 'x', grants: ['implicit'] }), /unknown grant "implicit"/);
  await refused(
    'public + client_credentials',
    () => tessera.clients.register({ name: 'x', public: true, grants: ['client_credentials'] }),
    /public client cannot use client_credentials/,
  );
  await refused(
    'public + introspect',
    () => tessera.clients.register({ name: 'x', public: true, grants: ['password'], introspect: true }),
    /cannot introspect/,
  );
  await refused(
    'code grant without redirect',
    () => tessera.clients.register({ name: 'x', public: true }),
    /needs at least one --redirect-uri/,
  );
  await refused('bad format', () => tessera.clients.register({ name: 'x', tokenFormat: 'saml' }), /opaque or jwt/);
  await refused('bad scope', () => tessera.clients.register({ name: 'x', scopes: ['bad"scope'] }), /invalid scope/);
  await refused('scope with space', () => tessera.clients.register({ name: 'x', scopes: ['a b'] }), /invalid scope/);
  await refused(
    'plain http redirect',
    () => tessera.clients.register({ name: 'x', grants: ['authorization_code'], redirectUris: ['http://evil.example/cb'] }),
    /https/,
  );
  await refused(
    'fragment',
    () => tessera.clients.register({ name: 'x', grants: ['authorization_code'], redirectUris: ['https://a.example/cb#f'] }),
    /fragment/,
  );
  await refused(
    'relative redirect',
    () => tessera.clients.register({ name: 'x', grants: ['authorization_code'], redirectUris: ['/cb'] }),
    /absolute/,
  );
  await refused('zero ttl', () => tessera.clients.register({ name: 'x', accessTtl: 0 }), /from 1/);
  await refused('huge ttl', () => tessera.clients.register({ name: 'x', refreshTtl: 10 ** 9 }), /from 1/);
  await refused('empty name', () => tessera.clients.register({ name: '  ' }), /--name/);
  await refused('bad audience', () => tessera.clients.register({ name: 'x', audience: 'a b' }), /--audience/);
  t.same(await tessera.clients.list(), [], 'no refused registration left a client behind');

  const loopback = await tessera.clients.register({ name: 'cli app', public: true, redirectUris: ['http://127.0.0.1:8765/cb'] });
  t.same(loopback.client.grants, ['authorization_code', 'refresh_token'], 'http on loopback is allowed; code implies refresh');

  await refused('short password', () => tessera.users.create('carol', undefined, 'short'), /at least 12/);
  await refused('long password', () => tessera.users.create('carol', undefined, 'x'.repeat(1025)), /at most 1024/);
  await refused('username with space', () => tessera.users.create('has space', undefined, 'long enough 1'), /username/);
  await refused('empty username', () => tessera.users.create('', undefined, 'long enough 1'), /username/);
  await refused('bad email', () => tessera.users.create('dan', 'not-an-email', 'long enough 1'), /email/);
  await tessera.users.create('alice', undefined, 'long enough 1');
  await refused('duplicate', () => tessera.users.create('alice', undefined, 'long enough 2'), /already exists/);
  await refused('unknown user', () => tessera.users.setActive('nobody', false), /no user "nobody"/);
  await refused('unknown user delete', () => tessera.users.delete('nobody'), /no user/);
  await refused('unknown client', () => tessera.clients.delete('nope'), /no client "nope"/);
  await refused('password of 11 characters', () => tessera.users.setPassword('alice', 'elevenchars'), /at least 12/);
  await refused('bad origin', () => tessera.clients.register({ name: 'x', origins: ['https://app.example/path'] }), /scheme:\/\/host/);
  await refused('plain-http origin', () => tessera.clients.register({ name: 'x', origins: ['http://app.example'] }), /https/);
  // An admin JWT outliving its client's access lifetime would outlive its key's publication.
  const jwtClient = (await tessera.clients.register({ name: 'jwt', tokenFormat: 'jwt', accessTtl: 600 })).client;
  await refused(
    'admin JWT longer than the client allows',
    () => issueAdminToken(tessera, { username: 'alice', clientId: jwtClient.id, ttl: 601 }),
    /at most its access token lifetime \(600 s\)/,
  );
  t.ok((await issueAdminToken(tessera, { username: 'alice', clientId: jwtClient.id, ttl: 600 })).minted.token, 'up to it is fine');
  t.same(
    (await tessera.users.list()).map((u) => u.username),
    ['alice'],
  );
});
