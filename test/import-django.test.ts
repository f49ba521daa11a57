// `tessera import django` with a dump Django itself wrote (test/django/make_dump.py): the summary,
// then everything imported at work at the real endpoints — each user signs in with the password
// Django was given and is moved to Argon2id, each DRF key verifies, each DOT client gets tokens —,
// that a dry run and a second import write nothing, that a DOT 2.x (hashed) secret waits for a
// rotation, and that the admin API does the same import.
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { basic, clientAuth, post, registerClient, startTessera, tokenRequest, type Running } from './helpers/harness.ts';
import { cli, cliEnv } from './helpers/cli.ts';
import { freePort } from './helpers/server-process.ts';
import { pkcePair } from './helpers/pkce.ts';
import {
  cliJson,
  imported,
  makeDump,
  snapshot,
  type DjangoApplication,
  type DjangoDump,
  type DjangoUser,
  type ImportSummary,
} from './helpers/django.ts';
import { djangoSkip } from './helpers/debian-python.ts';

const skip = djangoSkip();

// Each command is a process of its own, and Django's hashes cost what they cost on a busy machine.
t.setTimeout(600_000);

interface Client {
  id: string;
  secret?: string;
}

/**
 * The password grant at /token. Each user's attempts come from an address of their own: the
 * throttle counts failures per address (10 in 15 minutes), and this test fails many on purpose.
 */
async function passwordGrant(app: FastifyInstance, client: Client, user: DjangoUser, password: string) {
  const auth = clientAuth(client);
  const response = await app.inject({
    method: 'POST',
    url: '/token',
    remoteAddress: `127.0.1.${user.pk}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers },
    payload: new URLSearchParams({ ...auth.form, grant_type: 'password', username: user.username, password }).toString(),
  });
  return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
}

/**
 * The authorization code flow with PKCE, driven as a browser would (as authorize.test.ts does):
 * the sign-in page, its form posted back with the CSRF cookie, the code exchanged at /token.
 */
async function authorizationCode(app: FastifyInstance, client: Client, redirectUri: string, username: string, password: string) {
  const { verifier, challenge } = pkcePair();
  const query = {
    response_type: 'code',
    client_id: client.id,
    redirect_uri: redirectUri,
    state: 'imported',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  const page = await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams(query)}` });
  if (page.statusCode !== 200) throw new Error(`the sign-in page: ${page.statusCode} ${page.body}`);
  const csrf = [page.headers['set-cookie'] ?? []].flat().find((cookie) => cookie.startsWith('tessera_login_csrf='));
  const hidden = [...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [
    m[1]!,
    m[2]!.replace(/&amp;/g, '&'),
  ]);
  const signedIn = await app.inject({
    method: 'POST',
    url: '/authorize',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrf?.split(';')[0] ?? '' },
    payload: new URLSearchParams([...hidden, ['username', username], ['password', password]]).toString(),
  });
  const location = new URL(String(signedIn.headers.location ?? 'about:blank'));
  const code = location.searchParams.get('code');
  if (signedIn.statusCode !== 302 || `${location.origin}${location.pathname}` !== redirectUri || !code)
    throw new Error(`the sign-in: ${signedIn.statusCode} ${String(signedIn.headers.location)} ${signedIn.body}`);
  return tokenRequest(app, client, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri });
}

/** Whether `check` holds within five seconds (what a server learns of a command through its change feed). */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (const until = Date.now() + 5000; ; await new Promise((r) => setTimeout(r, 100))) {
    if (await check()) return true;
    if (Date.now() > until) return false;
  }
}

/** A response's status and body, for t.match to show both when it fails. */
const answer = (response: { statusCode: number; body_: Record<string, unknown> }) => ({
  status: response.statusCode,
  body: response.body_,
});

const verifyStatus = async (app: FastifyInstance, key: string) => (await post(app, '/token/verify', { token: key })).statusCode;

/** The password hash Tessera keeps for a user: there is no API for it, so the core reads the row. */
const storedHash = async (running: Running, username: string) => (await running.tessera.users.find(username)).passwordHash;

/** What the summary of importing the whole dump into an empty database says, but its warnings. */
function allCreated(dump: DjangoDump, dryRun: boolean) {
  return {
    dry_run: dryRun,
    users: { created: dump.users.length, unchanged: 0 },
    tokens: { created: dump.tokens.length, unchanged: 0 },
    clients: { created: dump.applications.length, unchanged: 0 },
    clients_to_rotate: [],
  };
}

/**
 * The warnings importing the dump gives, in record order: each user with a legacy hash (imported
 * without a usable password) and each implicit or hybrid application (now a code flow client).
 */
function expectedWarnings(dump: DjangoDump) {
  return dump.records.flatMap((record, i) => {
    const at = { line: 1, record: i + 1, model: record.model, pk: record.pk };
    const user = record.model === 'auth.user' ? dump.users.find((u) => u.pk === record.pk)! : undefined;
    if (user && !user.usable && user.algorithm !== 'unusable') return [{ ...at, message: new RegExp(user.algorithm) }];
    const grant = record.model === 'oauth2_provider.application' ? String(record.fields.authorization_grant_type) : '';
    return grant === 'implicit' || grant === 'openid-hybrid' ? [{ ...at, message: new RegExp(grant.replace('openid-', '')) }] : [];
  });
}

const byRecord = (warnings: { record: number }[]) => [...warnings].sort((a, b) => a.record - b.record);

t.test('a Django dump, imported', { skip }, async (t) => {
  const server = await startTessera(t);
  const { app, tessera } = server;
  const env = cliEnv(server.db, server.config.secret!);
  const dump = await makeDump(server.db.dataDir);
  const tokenClient = await registerClient(tessera, { name: 'drf tokens', scopes: ['read', 'write'] });
  const signInClient = await registerClient(tessera, { name: 'sign-in', grants: ['password'] });
  const introspector = await registerClient(tessera, { name: 'resource server', introspect: true });
  const args = [dump.path, '--token-client', tokenClient.id];
  const userNamed = (username: string) => dump.users.find((u) => u.username === username)!;
  const application = (grant: string, type: DjangoApplication['client_type']) =>
    dump.applications.find((a) => a.grant === grant && a.client_type === type)!;
  const dumpHash = (user: DjangoUser) => dump.records.find((r) => r.model === 'auth.user' && r.pk === user.pk)!.fields.password;
  const canSignIn = dump.users.filter((u) => u.active && u.usable);
  const cannot = dump.users.filter((u) => !u.active || !u.usable);
  // What the summaries said, for the admin API's to be compared with.
  const said: { dryRun?: ImportSummary; imported?: ImportSummary } = {};
  let ids = new Map<string, string>();

  t.test('the dump has what the test is about', async (t) => {
    const every = ['argon2', 'bcrypt', 'bcrypt_sha256', 'pbkdf2_sha1', 'pbkdf2_sha256', 'scrypt', 'unusable'];
    const legacy = ['crypt', 'md5', 'sha1', 'unsalted_md5', 'unsalted_sha1'];
    t.same([...new Set(dump.users.map((u) => u.algorithm))].sort(), [...every, ...legacy].sort(), 'every kind of hash');
    t.ok(
      dump.records.some((r) => r.model === 'auth.user' && String(r.fields.password).startsWith('pbkdf2_sha256$260000$')),
      "Django 3.2's default pbkdf2_sha256",
    );
    t.ok(cannot.some((u) => !u.active) && cannot.some((u) => u.algorithm === 'unusable'), 'an inactive user, an unusable password');
    t.ok(dump.tokens.length >= 3, 'DRF tokens of several users');
    t.equal(dump.text.split('\n').filter(Boolean).length, 1, 'dumpdata without --indent: one line');
  });

  t.test('--dry-run: the summary, and nothing written', async (t) => {
    const before = await snapshot(env);
    const summary = await imported(env, [...args, '--dry-run']);
    t.match(summary, allCreated(dump, true));
    const warnings = expectedWarnings(dump);
    t.match(byRecord(summary.warnings), warnings);
    t.equal(summary.warnings.length, warnings.length, 'no other warning');
    said.dryRun = summary;
    t.same(await snapshot(env), before, 'no user, no client written');
    const alice = userNamed('alice');
    t.match(
      await passwordGrant(app, signInClient, alice, alice.password),
      { status: 400, body: { error: 'invalid_grant' } },
      'nobody signs in',
    );
    t.equal(await verifyStatus(app, dump.tokens[0]!.key), 401, 'no DRF key verifies');

    const human = await cli(env, ['import', 'django', ...args, '--dry-run']);
    t.equal(human.code, 0, `human output, exit 0: ${human.stderr}`);
    t.match(human.stdout, /dry run/i);
    for (const count of [dump.users.length, dump.tokens.length, dump.applications.length])
      t.match(human.stdout, new RegExp(`\\b${count}\\b`), `says ${count}`);
    t.same(await snapshot(env), before, 'still nothing written');
  });

  t.test('the import: its summary, the users and clients it made', async (t) => {
    const summary = await imported(env, args);
    t.match(summary, allCreated(dump, false));
    t.same(summary, { ...said.dryRun, dry_run: false }, 'what the dry run said');
    said.imported = summary;

    const { users, clients } = (await snapshot(env)) as {
      users: { items: { id: string; username: string }[] };
      clients: { items: { client_id: string }[] };
    };
    ids = new Map(users.items.map((u) => [u.username, u.id]));
    for (const user of dump.users)
      t.match(
        users.items.find((u) => u.username === user.username),
        { username: user.username, email: user.email, name: user.name, active: user.active },
        `user ${user.username}`,
      );
    const grants: Record<string, string[]> = {
      'authorization-code': ['authorization_code', 'refresh_token'],
      implicit: ['authorization_code', 'refresh_token'],
      'openid-hybrid': ['authorization_code', 'refresh_token'],
      password: ['password', 'refresh_token'],
      'client-credentials': ['client_credentials'],
    };
    for (const dot of dump.applications) {
      const client = clients.items.find((c) => c.client_id === dot.client_id) as Record<string, unknown> | undefined;
      t.match(
        client,
        { name: dot.name || dot.client_id, type: dot.client_type, redirect_uris: dot.redirect_uris },
        `client ${dot.name || '(blank name)'}`,
      );
      t.same([...((client?.grants as string[] | undefined) ?? [])].sort(), grants[dot.grant], `its grants (${dot.grant})`);
    }
  });

  t.test('each user signs in with the password Django was given, and is moved to Argon2id', async (t) => {
    for (const user of canSignIn) {
      const hash = dumpHash(user);
      t.equal(await storedHash(server, user.username), hash, `${user.username}: the ${user.algorithm} hash is kept as it is`);
      const wrong = await passwordGrant(app, signInClient, user, `${user.password}!`);
      t.match(wrong, { status: 400, body: { error: 'invalid_grant' } }, `${user.username}: a wrong password fails`);
      t.equal(await storedHash(server, user.username), hash, 'and changes nothing');

      const first = await passwordGrant(app, signInClient, user, user.password);
      t.match(first, { status: 200 }, `${user.username} signs in against the ${user.algorithm} hash`);
      const upgraded = await storedHash(server, user.username);
      t.match(upgraded, /^\$argon2id\$/, `${user.username}: the hash is now Argon2id`);
      t.equal(await verifyStatus(app, first.body.access_token as string), 200, 'the access token works');

      const token = dump.tokens.find((k) => k.user_pk === user.pk);
      if (token) t.equal(await verifyStatus(app, token.key), 200, `${user.username}'s DRF key outlives the upgrade`);

      const second = await passwordGrant(app, signInClient, user, user.password);
      t.equal(second.status, 200, `${user.username} signs in again, against the Argon2id hash`);
      t.equal(await verifyStatus(app, first.body.access_token as string), 200, 'the first sign-in is not ended by the second');
      t.match(
        await passwordGrant(app, signInClient, user, `${user.password}!`),
        { status: 400, body: { error: 'invalid_grant' } },
        'a wrong one still fails',
      );
    }
  });

  t.test('the inactive, the unusable and the legacy cannot sign in', async (t) => {
    for (const user of cannot) {
      const hash = String(dumpHash(user));
      // The password Django was given, and the stored text itself (which a string comparison would take).
      for (const password of [user.password, hash])
        t.match(
          await passwordGrant(app, signInClient, user, password),
          { status: 400, body: { error: 'invalid_grant' } },
          `${user.username} (${user.active ? user.algorithm : 'inactive'})`,
        );
      t.notMatch(await storedHash(server, user.username), /^\$argon2id\$/, `${user.username}: no hash was upgraded`);
    }
  });

  t.test('each DRF key is an access token of the token client', async (t) => {
    for (const { key, username } of dump.tokens) {
      const expected = { active: true, sub: ids.get(username), client_id: tokenClient.id, scope: 'read write' };
      const ways: [string, Record<string, string>, Record<string, string>][] = [
        ['Authorization: Token', {}, { authorization: `Token ${key}` }],
        ['Authorization: Bearer', {}, { authorization: `Bearer ${key}` }],
        ['the body', { token: key }, {}],
      ];
      for (const [way, form, headers] of ways) {
        const verified = await post(app, '/token/verify', form, { headers });
        t.equal(verified.statusCode, 200, `${username}'s key as ${way}`);
        t.match(verified.body_, expected, `${username}'s key as ${way}: sub and client_id`);
      }
      const introspected = await post(
        app,
        '/introspect',
        { token: key },
        { headers: { authorization: basic(introspector.id, introspector.secret!) } },
      );
      t.match(introspected.body_, expected, `${username}'s key introspects as active`);
    }
    const unknown = 'f'.repeat(40);
    for (const authorization of [`Token ${unknown}`, `Bearer ${unknown}`])
      t.equal((await post(app, '/token/verify', {}, { headers: { authorization } })).statusCode, 401, `not any 40 hex: ${authorization}`);
  });

  t.test('each DOT application is a client that gets tokens', async (t) => {
    const bob = userNamed('bob');
    const clientCredentials = application('client-credentials', 'confidential');
    const machine = { id: clientCredentials.client_id, secret: clientCredentials.client_secret };
    const issued = await tokenRequest(app, machine, { grant_type: 'client_credentials' });
    t.match(answer(issued), { status: 200 }, 'client_credentials with the DOT 1.x secret');
    t.equal(await verifyStatus(app, issued.body_.access_token as string), 200);
    t.equal((await tokenRequest(app, { ...machine, secret: `${machine.secret}x` }, { grant_type: 'client_credentials' })).statusCode, 401);

    const legacyCli = application('password', 'confidential');
    const viaPassword = await tokenRequest(
      app,
      { id: legacyCli.client_id, secret: legacyCli.client_secret },
      { grant_type: 'password', username: bob.username, password: bob.password },
    );
    t.match(answer(viaPassword), { status: 200, body: { access_token: String, refresh_token: String } }, 'the password grant');

    for (const dot of dump.applications.filter((a) => ['authorization-code', 'implicit', 'openid-hybrid'].includes(a.grant))) {
      const client = dot.client_type === 'confidential' ? { id: dot.client_id, secret: dot.client_secret } : { id: dot.client_id };
      // The last redirect URI: each of the space-separated ones was imported.
      const tokens = await authorizationCode(app, client, dot.redirect_uris.at(-1)!, bob.username, bob.password);
      t.match(answer(tokens), { status: 200 }, `${dot.name} (${dot.client_type}, ${dot.grant}): code + PKCE`);
      t.equal(await verifyStatus(app, tokens.body_.access_token as string), 200);
    }
  });

  t.test('a second import of the same file changes nothing', async (t) => {
    // Changes made in Tessera after the import, which the dump must not undo.
    await cliJson(env, ['user', 'deactivate', 'judy']);
    const legacyCli = application('password', 'confidential');
    const rotated = await cliJson<{ client_secret: string }>(env, ['client', 'rotate-secret', legacyCli.client_id]);
    const revoked = dump.tokens.at(-1)!;
    const revocation = await post(
      app,
      '/revoke',
      { token: revoked.key },
      { headers: { authorization: basic(tokenClient.id, tokenClient.secret!) } },
    );
    t.equal(revocation.statusCode, 200, 'a DRF key revoked at /revoke');
    t.equal(await verifyStatus(app, revoked.key), 401, 'no longer verifies');
    const before = await snapshot(env);
    const hashes = await Promise.all(dump.users.map((u) => storedHash(server, u.username)));

    t.match(await imported(env, args), {
      dry_run: false,
      users: { created: 0, unchanged: dump.users.length },
      tokens: { created: 0, unchanged: dump.tokens.length },
      clients: { created: 0, unchanged: dump.applications.length },
      clients_to_rotate: [],
    });
    t.same(await snapshot(env), before, 'users and clients as they were');
    t.same(await Promise.all(dump.users.map((u) => storedHash(server, u.username))), hashes, 'no upgraded hash reverted');

    const alice = userNamed('alice');
    t.equal((await passwordGrant(app, signInClient, alice, alice.password)).status, 200, 'alice still signs in');
    const judy = userNamed('judy');
    t.equal((await passwordGrant(app, signInClient, judy, judy.password)).status, 400, 'judy stays deactivated');
    for (const { key, username } of dump.tokens)
      t.equal(
        await verifyStatus(app, key),
        key === revoked.key ? 401 : 200,
        `${username}'s key ${key === revoked.key ? 'stays revoked' : 'still verifies'}`,
      );
    const withDumpSecret = () =>
      tokenRequest(
        app,
        { id: legacyCli.client_id, secret: legacyCli.client_secret },
        { grant_type: 'password', username: alice.username, password: alice.password },
      );
    t.equal((await withDumpSecret()).statusCode, 401, "the dump's secret does not come back");
    const withRotated = await tokenRequest(
      app,
      { id: legacyCli.client_id, secret: rotated.client_secret },
      { grant_type: 'password', username: alice.username, password: alice.password },
    );
    t.equal(withRotated.statusCode, 200, 'the rotated secret still works');
  });

  t.test('a DOT 2.x dump: hashed secrets wait for a rotation', async (t) => {
    const fresh = await startTessera(t);
    const freshEnv = cliEnv(fresh.db, fresh.config.secret!);
    const freshTokens = await registerClient(fresh.tessera, { name: 'drf tokens', scopes: ['read'] });
    const hashed = join(fresh.db.dataDir, 'dot2.json');
    const secrets = new Map(dump.applications.map((a) => [a.client_id, a.hashed_secret]));
    const records = dump.records.map((r) =>
      r.model === 'oauth2_provider.application'
        ? { ...r, fields: { ...r.fields, client_secret: secrets.get(String(r.fields.client_id)) } }
        : r,
    );
    writeFileSync(hashed, JSON.stringify(records));

    const summary = await imported(freshEnv, [hashed, '--token-client', freshTokens.id]);
    t.match(summary, { ...allCreated(dump, false), clients_to_rotate: Array });
    t.same(
      [...summary.clients_to_rotate].sort(),
      dump.applications
        .filter((a) => a.client_type === 'confidential')
        .map((a) => a.client_id)
        .sort(),
      'every confidential client, and only they (a public one has no secret)',
    );

    const machine = application('client-credentials', 'confidential');
    const request = (secret: string) => tokenRequest(fresh.app, { id: machine.client_id, secret }, { grant_type: 'client_credentials' });
    t.equal((await request(machine.client_secret)).statusCode, 401, 'the clear secret is not known');
    t.equal((await request(machine.hashed_secret)).statusCode, 401, 'nor is the hash a secret');
    const rotated = await cliJson<{ client_secret: string }>(freshEnv, ['client', 'rotate-secret', machine.client_id]);
    t.ok(
      await eventually(async () => (await request(rotated.client_secret)).statusCode === 200),
      'after rotate-secret, the new secret works',
    );
    const mobile = application('authorization-code', 'public');
    const bob = userNamed('bob');
    const tokens = await authorizationCode(fresh.app, { id: mobile.client_id }, mobile.redirect_uris[0]!, bob.username, bob.password);
    t.equal(tokens.statusCode, 200, 'a public client needs no rotation');
  });

  t.test('the same import through the admin API (--url)', async (t) => {
    const port = await freePort();
    // The remote command gets its admin token at <issuer>/token: the issuer is where the public app listens.
    const remote = await startTessera(t, { env: { TESSERA_ISSUER: `http://127.0.0.1:${port}` } });
    await remote.app.listen({ port, host: '127.0.0.1' });
    await remote.admin.listen({ port: 0, host: '127.0.0.1' });
    const adminUrl = `http://127.0.0.1:${(remote.admin.server.address() as AddressInfo).port}`;
    const ops = await registerClient(remote.tessera, { name: 'ops', admin: true });
    const remoteTokens = await registerClient(remote.tessera, { name: 'drf tokens', scopes: ['read', 'write'] });
    // No database where the command runs: everything goes through the API.
    const remoteEnv = {
      DATABASE_URL: `file:${join(remote.db.dataDir, 'not-here', 'nothing.db')}`,
      TESSERA_DATA_DIR: join(remote.db.dataDir, 'not-here'),
      TESSERA_ADMIN_CLIENT_ID: ops.id,
      TESSERA_ADMIN_CLIENT_SECRET: ops.secret!,
    };
    const remoteArgs = [dump.path, '--token-client', remoteTokens.id];

    t.same(await imported(remoteEnv, [...remoteArgs, '--dry-run'], adminUrl), said.dryRun, 'the dry run says what it said directly');
    t.equal((await remote.tessera.users.page(100)).items.length, 0, 'and writes nothing');
    t.same(await imported(remoteEnv, remoteArgs, adminUrl), said.imported, 'the import says what it said directly');

    const key = dump.tokens[0]!;
    const verified = await post(remote.app, '/token/verify', {}, { headers: { authorization: `Token ${key.key}` } });
    t.match(verified.body_, { active: true, sub: (await remote.tessera.users.find(key.username)).id, client_id: remoteTokens.id });
    const signIn = await registerClient(remote.tessera, { name: 'sign-in', grants: ['password'] });
    const alice = userNamed('alice');
    t.equal((await passwordGrant(remote.app, signIn, alice, alice.password)).status, 200, 'alice signs in there');
    t.match(
      await imported(remoteEnv, remoteArgs, adminUrl),
      { users: { created: 0, unchanged: dump.users.length } },
      'and a second import changes nothing there either',
    );
  });
});
