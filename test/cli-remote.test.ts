// The admin command both ways: on the database itself (direct), and through a running server's
// admin API (remote: `--url` at the admin listener, an admin client's credentials). Each command and
// option is run in both modes against one server listening on real ports, and what it did is
// checked in the core, at the public endpoints, and in the audit log (actor `cli:<os user>`
// directly, the admin client's id through the API).
import t, { type Test } from 'tap';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { basic, post, registerClient, startTessera } from './helpers/harness.ts';
import { cli, cliEnv, failsClearly, type Run } from './helpers/cli.ts';
import { freePort } from './helpers/server-process.ts';

type Mode = 'direct' | 'remote';

interface Failure {
  error: string;
  message: string;
}

/** Under --json a failure is one JSON object on stdout, exit 1, nothing on stderr. */
function failsAsJson(t: Test, run: Run, error: string, message: RegExp) {
  t.equal(run.code, 1, `exit 1: ${run.stdout.trim()}`);
  let body: Failure | undefined;
  try {
    body = JSON.parse(run.stdout) as Failure;
  } catch {
    t.fail(`not JSON: ${run.stdout}${run.stderr}`);
  }
  t.match(body, { error, message });
  t.equal(run.stderr, '', 'nothing on stderr');
}

// ~150 runs of the command, each a process of its own (opening the database, directly): on a busy
// machine that takes longer than the default timeout.
t.setTimeout(900_000);

/** Whether `check` holds within `ms` (what the server learns through its change feed). */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  for (const until = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    if (await check()) return true;
    if (Date.now() > until) return false;
  }
}

t.test('the admin command, direct and remote', async (t) => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  // The admin root document names `<issuer>/token`: the issuer is where the public app listens.
  const server = await startTessera(t, { env: { TESSERA_ISSUER: issuer } });
  await server.app.listen({ port, host: '127.0.0.1' });
  await server.admin.listen({ port: 0, host: '127.0.0.1' });
  const adminUrl = `http://127.0.0.1:${(server.admin.server.address() as AddressInfo).port}`;
  const core = server.tessera;
  const opsClient = await registerClient(core, { name: 'ops', admin: true });
  const plainClient = await registerClient(core, { name: 'not admin' });
  const osUser = `cli:${userInfo().username}`;

  const directEnv = { ...cliEnv(server.db, server.config.secret!), TESSERA_ISSUER: issuer };
  // No database where the remote command runs: everything goes through the API.
  const remoteEnv = {
    DATABASE_URL: `file:${join(server.db.dataDir, 'not-here', 'nothing.db')}`,
    TESSERA_DATA_DIR: join(server.db.dataDir, 'not-here'),
    TESSERA_ADMIN_CLIENT_ID: opsClient.id,
    TESSERA_ADMIN_CLIENT_SECRET: opsClient.secret!,
  };
  const jwksFile = join(server.db.dataDir, 'signer.json');
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  writeFileSync(join(server.db.dataDir, 'bad.json'), 'these are not keys');
  const verify = (token: string) => post(server.app, '/token/verify', { token });

  const exercise = (mode: Mode) => async (t: Test) => {
    const env = mode === 'direct' ? directEnv : remoteEnv;
    const actor = mode === 'direct' ? osUser : opsClient.id;
    const run = (args: string[], input?: string) => cli(env, mode === 'remote' ? ['--url', adminUrl, ...args] : args, input);
    // --json before and after the subcommand, in turn.
    let turn = 0;
    const jsonRun = (args: string[], input?: string) => run(turn++ % 2 === 0 ? ['--json', ...args] : [...args, '--json'], input);
    const json = async (args: string[], input?: string) => {
      const result = await jsonRun(args, input);
      if (result.code !== 0 || result.stdout === '')
        throw new Error(
          `${mode}: ${args.join(' ')}: exit ${result.code}, stdout ${JSON.stringify(result.stdout)}, stderr ${JSON.stringify(result.stderr)}`,
        );
      return JSON.parse(result.stdout);
    };
    const name = (what: string) => `${mode}-${what}`;
    const auditCount = async () => (await core.audit.page(500)).items.length;

    // What the command creates: a user, clients of every kind.
    const [alice, bob, api, signer, spa, ops2] = await Promise.all([
      json(
        [
          'user',
          'create',
          name('alice'),
          '--email',
          'alice@example.com',
          '--email-verified',
          '--name',
          'Alice A',
          '--role',
          'admin',
          '--role',
          'ops team',
          '--group',
          'staff',
          '--password-stdin',
        ],
        'alice password 1\n',
      ),
      json(['user', 'create', name('bob'), '--password-stdin'], 'bob password 12'),
      json([
        'client',
        'create',
        '--name',
        name('api'),
        '--scope',
        'read',
        '--scope',
        'write',
        '--grant',
        'client_credentials',
        '--grant',
        'password',
        '--token-format',
        'jwt',
        '--access-ttl',
        '600',
        '--audience',
        'https://api.example.com',
        '--introspect',
      ]),
      json(['client', 'create', '--name', name('signer'), '--jwks', jwksFile, '--scope', 'read']),
      json(['client', 'create', '--name', name('spa'), '--public', '--redirect-uri', 'https://app.example.com/cb', '--browser']),
      json(['client', 'create', '--name', name('ops2'), '--admin']),
    ]);

    t.test('create', async (t) => {
      t.match(alice, {
        id: String,
        username: name('alice'),
        email: 'alice@example.com',
        email_verified: true,
        name: 'Alice A',
        roles: ['admin', 'ops team'],
        groups: ['staff'],
        active: true,
      });
      t.notOk('password' in alice || 'password_hash' in alice, 'no password in the output');
      t.match(bob, { username: name('bob'), email: null, roles: [], groups: [] });
      t.match(api, {
        client_id: String,
        client_secret: /^tss_/,
        type: 'confidential',
        grants: ['client_credentials', 'password', 'refresh_token'],
        scopes: ['read', 'write'],
        token_format: 'jwt',
        access_ttl: 600,
        audience: 'https://api.example.com',
        introspect: true,
        admin: false,
        created_at: String,
      });
      t.match(signer, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kid: 'k1' }] }, jwks_uri: null });
      t.notOk('client_secret' in signer, 'a client with keys has no secret');
      t.match(spa, { type: 'public', grants: ['authorization_code', 'refresh_token'], browser: true });
      t.notOk('client_secret' in spa, 'a public client has no secret');
      t.match(ops2, { admin: true, scopes: ['tessera:admin'], grants: ['client_credentials'] });
      t.ok((await core.users.find(alice.id)).emailVerified, 'the core has the user');
    });

    t.test('list and show', async (t) => {
      const [users, onePage, usersTable, clients, showSigner, showHuman, keys, keysTable] = await Promise.all([
        json(['user', 'list']),
        json(['user', 'list', '--limit', '1']),
        run(['user', 'list']),
        json(['client', 'list']),
        json(['client', 'show', signer.client_id]),
        run(['client', 'show', signer.client_id]),
        json(['keys', 'list']),
        run(['keys', 'list']),
      ]);
      t.match(users, { items: Array, next_cursor: null });
      t.ok(
        [name('alice'), name('bob')].every((u) => users.items.some((v: { username: string }) => v.username === u)),
        'every user, page after page',
      );
      t.equal(onePage.items.length, 1, '--limit: one page');
      t.type(onePage.next_cursor, 'string', 'with the cursor to go on');
      const next = await json(['user', 'list', '--limit', '1', '--cursor', onePage.next_cursor]);
      t.not(next.items[0].id, onePage.items[0].id, '--cursor: the next page');
      t.match(usersTable.stdout, /USERNAME\s+ID\s+EMAIL\s+ACTIVE\s+ROLES/);
      t.match(usersTable.stdout, new RegExp(`${name('alice')}\\s+\\S+\\s+alice@example.com\\s+yes\\s+admin,ops team`));
      t.ok(
        [api, signer, spa, ops2].every((c) => clients.items.some((v: { client_id: string }) => v.client_id === c.client_id)),
        'every client',
      );
      t.equal(showSigner.client_id, signer.client_id);
      t.notOk('client_secret' in showSigner, 'show never shows a secret');
      t.match(showHuman.stdout, /token_endpoint_auth_method:\s+private_key_jwt/);
      t.match(showHuman.stdout, /jwks:\s+1 key\n/);
      t.match(keys, { items: [{ kid: String, alg: 'ES256', status: 'signing' }] });
      t.match(keysTable.stdout, /KID\s+ALG\s+STATUS\s+CREATED\s+PUBLISHED UNTIL/);
      const [byId, byName] = await Promise.all([json(['user', 'show', alice.id]), run(['user', 'show', name('alice')])]);
      t.equal(byId.username, name('alice'), 'a user by id');
      t.match(byName.stdout, new RegExp(`username:\\s+${name('alice')}`), 'or by username');
    });

    t.test('update', async (t) => {
      // Independent changes side by side; changes to one record in turn.
      const [updated, deactivated, narrowed, noBrowser, noAdmin, signerWithSecret, rotated, registration, registrationHuman] =
        await Promise.all([
          json(['user', 'update', name('alice'), '--no-email-verified', '--name', 'Alice B', '--role', 'auditor', '--no-groups']),
          json(['user', 'deactivate', name('bob')]),
          json(['client', 'update', api.client_id, '--scope', 'read', '--no-introspect', '--access-ttl', '300', '--no-audience']),
          json(['client', 'update', spa.client_id, '--no-browser', '--origin', 'https://other.example.com']),
          json(['client', 'update', ops2.client_id, '--no-admin', '--name', name('ops2-renamed')]),
          json(['client', 'update', signer.client_id, '--no-keys']),
          json(['client', 'rotate-secret', api.client_id, '--grace', '3600']),
          json(['client', 'registration-token', 'create', '--ttl', '600', '--max-uses', '2']),
          run(['client', 'registration-token', 'create']),
        ]);
      t.match(updated, { email: 'alice@example.com', email_verified: false, name: 'Alice B', roles: ['auditor'], groups: [] });
      t.match(deactivated, { active: false });
      t.match(narrowed, {
        client_id: api.client_id,
        scopes: ['read'],
        introspect: false,
        access_ttl: 300,
        audience: null,
        token_format: 'jwt',
      });
      t.notOk('client_secret' in narrowed, 'the secret is not shown again');
      t.match(noBrowser, { browser: false, origins: ['https://other.example.com'], redirect_uris: ['https://app.example.com/cb'] });
      t.match(noAdmin, { admin: false, scopes: [], name: name('ops2-renamed') });
      t.match(signerWithSecret, { token_endpoint_auth_method: 'client_secret_basic', jwks: null, client_secret: /^tss_/ });
      t.match(rotated, { client_id: api.client_id, client_secret: /^tss_/, previous_secret_expires_at: String });
      const graceEnds = Date.parse(rotated.previous_secret_expires_at);
      t.ok(graceEnds > Date.now() + 3000_000 && graceEnds <= Date.now() + 3600_000, '--grace: the old secret works an hour more');
      const clientAuth = (secret: string) => core.clients.authenticate({ clientId: api.client_id, secret });
      // The server's cache follows the change feed.
      t.ok(await eventually(async () => (await clientAuth(rotated.client_secret)) !== null), 'the new secret works');
      t.ok(await clientAuth(api.client_secret), 'so does the old one, in the grace period');
      t.match(registration, { initial_access_token: String, expires_at: String, max_uses: 2 });
      t.ok(Math.abs(Date.parse(registration.expires_at) - Date.now() - 600_000) < 120_000, '--ttl');
      t.match(registrationHuman.stdout, /initial_access_token:\s+\S+[\s\S]*max_uses:\s+-/);

      const [cleared, activated, madeAdmin, browserAgain, atOnce] = await Promise.all([
        json(['user', 'update', alice.id, '--email-verified', '--no-name']),
        json(['user', 'activate', name('bob')]),
        json(['client', 'update', ops2.client_id, '--admin']),
        json(['client', 'update', spa.client_id, '--browser']),
        run(['client', 'rotate-secret', api.client_id]),
      ]);
      t.match(cleared, { email_verified: true, name: null });
      t.match(activated, { active: true });
      t.match(madeAdmin, { admin: true, scopes: ['tessera:admin'] });
      t.match(browserAgain, { browser: true });
      t.match(atOnce.stdout, /client_secret: tss_\S+\nThe old secret no longer works\.\nStore the secret now/);

      const [passwordSet, confidential] = await Promise.all([
        run(['user', 'set-password', name('bob'), '--password-stdin'], 'bob password 34'),
        json(['client', 'update', spa.client_id, '--confidential', '--grant', 'authorization_code', '--no-browser']),
      ]);
      t.match(passwordSet.stdout, new RegExp(`password of ${name('bob')} changed`));
      t.ok(await core.users.authenticate(name('bob'), 'bob password 34'), 'the new password works');
      t.match(confidential, { type: 'confidential', client_secret: /^tss_/ }, '--confidential: a public client gets a secret');
      t.match(await json(['client', 'update', spa.client_id, '--public']), { type: 'public' }, 'and --public makes it public again');
    });

    t.test('tokens', async (t) => {
      const [issued, second, third, viaId] = await Promise.all([
        json(['token', 'create', '--user', name('alice'), '--client', api.client_id, '--scope', 'read', '--ttl', '120']),
        json(['token', 'create', '--user', name('alice'), '--client', api.client_id]),
        json(['token', 'create', '--user', name('bob'), '--client', api.client_id]),
        json(['token', 'create', '--user', alice.id, '--client', signer.client_id]),
      ]);
      t.match(issued, { access_token: String, token_type: 'Bearer', scope: 'read', client_id: api.client_id, username: name('alice') });
      t.ok(issued.expires_in <= 120 && issued.expires_in >= 100, '--ttl');
      t.match((await verify(issued.access_token)).body_, { active: true, scope: 'read', client_id: api.client_id });
      t.equal(viaId.username, name('alice'), 'a user by id');

      const [fromStdin, byDefault] = await Promise.all([
        json(['token', 'revoke', '--stdin'], `${issued.access_token}\n`),
        json(['token', 'revoke'], second.access_token),
      ]);
      t.match(fromStdin, { revoked: 'token', found: true });
      t.match(byDefault, { revoked: 'token', found: true }, '--stdin is the default');
      const [byUser, byClient] = await Promise.all([
        json(['token', 'revoke', '--user', name('alice')]),
        json(['token', 'revoke', '--client', api.client_id]),
      ]);
      t.match(byUser, { revoked: 'user', found: true, user: alice.id });
      t.match(byClient, { revoked: 'client', found: true, client_id: api.client_id });
      for (const [token, what] of [
        [issued.access_token, 'revoked from stdin'],
        [second.access_token, 'revoked from stdin, without --stdin'],
        [viaId.access_token, 'revoke --user'],
        [third.access_token, 'revoke --client'],
      ] as const)
        t.ok(await eventually(async () => (await verify(token)).statusCode === 401), what);

      const [human, counts, unknownToken] = await Promise.all([
        run(['token', 'revoke', '--user', name('bob')]),
        json(['token', 'prune']),
        jsonRun(['token', 'revoke', '--stdin'], 'tsa_nothing_like_it'),
      ]);
      t.match(human.stdout, new RegExp(`revoked every token of ${name('bob')}`));
      t.match(counts, { access_tokens: Number, refresh_tokens: Number, grants: Number, audit_entries: Number });
      t.notOk(
        Object.keys(counts).some((key) => /[A-Z]/.test(key)),
        'snake_case keys',
      );
      failsAsJson(t, unknownToken, 'not_found', /no such active token/);
    });

    t.test('keys', async (t) => {
      const before = (await json(['keys', 'list'])).items as { kid: string; status: string }[];
      const signing = before.find((k) => k.status === 'signing')!;
      const rotated = await json(['keys', 'rotate']);
      t.match(rotated, { kid: String, alg: 'ES256', status: 'signing' });
      t.not(rotated.kid, signing.kid);
      const human = await run(['keys', 'rotate']);
      t.match(human.stdout, /^now signing with \S+\n$/);
      t.match(await json(['keys', 'revoke', signing.kid]), { kid: signing.kid, revoked: true });
      const after = (await json(['keys', 'list'])).items as { kid: string }[];
      t.notOk(
        after.some((k) => k.kid === signing.kid),
        'a revoked key is no longer listed',
      );
      failsClearly(t, await run(['keys', 'revoke', signing.kid]), /no published key/);
    });

    t.test('refused: one clear line (or JSON), exit 1, nothing changed', async (t) => {
      const clientBefore = await core.clients.get(api.client_id);
      const aliceBefore = await core.users.find(alice.id);
      const clientsBefore = (await core.clients.list()).length;
      const usersBefore = (await core.users.list()).length;
      const entriesBefore = await auditCount();
      const cases: [string[], RegExp, string?][] = [
        [['user', 'show', 'nobody'], /no user "nobody"/],
        [['user', 'delete', 'nobody'], /no user "nobody"/],
        [['user', 'update', 'nobody', '--name', 'X'], /no user "nobody"/],
        [['client', 'show', 'nope'], /no client "nope"/],
        [['client', 'update', 'nope', '--name', 'x'], /no client "nope"/],
        [['client', 'delete', 'nope'], /no client "nope"/],
        [['client', 'rotate-secret', 'nope'], /no client "nope"/],
        [['token', 'create', '--user', 'ghost', '--client', api.client_id], /no user "ghost"/],
        [['token', 'revoke', '--client', 'nope'], /no client "nope"/],
        [['user', 'create', name('alice'), '--password-stdin'], /already exists/, 'whatever password'],
        [['user', 'create', name('carol'), '--password-stdin'], /at least 12/, 'elevenchars'],
        [['user', 'create', name('carol'), '--email', 'not-an-email', '--password-stdin'], /email/, 'carol password 1'],
        [['user', 'update', name('alice'), '--email', 'not-an-email'], /email/],
        [['client', 'create', '--name', 'x', '--grant', 'implicit'], /unknown grant "implicit"/],
        [['client', 'create', '--name', 'x', '--public'], /needs at least one --redirect-uri/],
        [['client', 'create', '--name', 'x', '--scope', 'tessera:admin'], /--admin/],
        [
          ['client', 'create', '--name', 'x', '--public', '--admin', '--redirect-uri', 'https://a.example/cb'],
          /admin client must be confidential|public client/,
        ],
        [['client', 'update', api.client_id, '--grant', 'authorization_code', '--redirect-uri', 'http://evil.example/cb'], /https/],
        [['client', 'rotate-secret', api.client_id, '--grace', '604801'], /604800/],
        [['client', 'rotate-secret', spa.client_id], /public client has no secret/],
        [['token', 'create', '--user', name('alice'), '--client', api.client_id, '--scope', 'admin'], /may not ask for: admin/],
        [['keys', 'revoke', 'no-such-kid'], /no published key "no-such-kid"/],
      ];
      const runs = await Promise.all(cases.map(([args, , input]) => run(args, input)));
      runs.forEach((result, i) => failsClearly(t, result, cases[i]![1]));
      t.same(await core.clients.get(api.client_id), clientBefore, 'the client is as it was');
      t.same(await core.users.find(alice.id), aliceBefore, 'the user is as she was');
      t.equal((await core.clients.list()).length, clientsBefore, 'no client registered');
      t.equal((await core.users.list()).length, usersBefore, 'no user created');
      t.equal(await auditCount(), entriesBefore, 'nothing in the audit log');

      const [notFound, invalid, usage] = await Promise.all([
        jsonRun(['user', 'show', 'nobody']),
        jsonRun(['client', 'create', '--name', 'x', '--grant', 'implicit']),
        jsonRun(['client', 'create']),
      ]);
      failsAsJson(t, notFound, 'not_found', /^no user "nobody"$/);
      failsAsJson(t, invalid, 'invalid_request', /unknown grant "implicit"/);
      failsAsJson(t, usage, 'usage', /required option '--name <name>' not specified/);
    });

    t.test('delete, and the audit log', async (t) => {
      const [deletedUser, deletedClient] = await Promise.all([
        json(['user', 'delete', name('bob')]),
        json(['client', 'delete', spa.client_id]),
      ]);
      t.match(deletedUser, { user: name('bob'), deleted: true });
      t.match(deletedClient, { client_id: spa.client_id, deleted: true });
      t.equal((await core.users.list()).filter((u) => u.username === name('bob')).length, 0, 'the user is gone');
      t.equal(await core.clients.find(spa.client_id), null, 'the client is gone');

      const log = (await json(['audit', 'list'])) as { items: { actor: string; action: string; target: string }[]; next_cursor: null };
      t.equal(log.next_cursor, null, 'all of it');
      const mine = log.items.filter((entry) => entry.actor === actor);
      const actions = new Set(mine.map((entry) => entry.action));
      for (const action of [
        'user.create',
        'user.update',
        'user.delete',
        'client.create',
        'client.update',
        'client.rotate_secret',
        'client.delete',
        'registration_token.create',
        'token.create',
        'token.revoke',
        'token.revoke_user',
        'token.revoke_client',
        'token.prune',
        'key.rotate',
        'key.revoke',
      ])
        t.ok(actions.has(action), `${action} by ${actor}`);
      const targets = [alice.id, bob.id, api.client_id, signer.client_id, spa.client_id, ops2.client_id];
      t.ok(
        log.items.filter((entry) => targets.includes(entry.target)).every((entry) => entry.actor === actor),
        `every change to what this mode made is by ${actor}`,
      );
      t.match(
        mine.find((entry) => entry.action === 'user.create' && entry.target === alice.id),
        { target: alice.id },
      );

      const page = await json(['audit', 'list', '--limit', '2']);
      t.equal(page.items.length, 2);
      t.type(page.next_cursor, 'string');
      t.same(page.items, log.items.slice(0, 2), 'newest first');
      const human = await run(['audit', 'list', '--limit', '3']);
      t.match(human.stdout, /^AT\s+ACTOR\s+ACTION\s+TARGET\n/);
      t.match(human.stdout, /\nmore: tessera audit list --limit 3 --cursor \S+\n$/);
    });
  };

  t.test('direct, on the database', exercise('direct'));
  t.test('remote, through the admin API', exercise('remote'));

  t.test('refused before anything is asked, in either mode', async (t) => {
    const cases: [string[], RegExp, string?][] = [
      [['user', 'update', 'alice'], /nothing to change/],
      [['user', 'update', 'alice', '--role', 'x', '--no-roles'], /--role or --no-roles/],
      [['client', 'create', '--name', 'x', '--token-format', 'saml'], /opaque or jwt/],
      [['client', 'create', '--name', 'x', '--jwks', join(server.db.dataDir, 'bad.json')], /--jwks: the JWK Set is not JSON/],
      [['client', 'create', '--name', 'x', '--jwks', join(server.db.dataDir, 'missing.json')], /--jwks: cannot read .*ENOENT/],
      [['client', 'update', 'some-client', '--public', '--confidential'], /--public or --confidential/],
      [['client', 'update', 'some-client', '--jwks-uri', 'https://keys.example/jwks.json', '--no-keys'], /--no-keys or --jwks/],
      [['client', 'update', 'some-client'], /nothing to change/],
      [['client', 'create', '--name', 'x', '--access-ttl', 'soon'], /whole number/],
      [['client', 'registration-token', 'create', '--max-uses', '0'], /from 1/],
      [['user', 'list', '--limit', '501'], /from 1 to 500/],
      [['token', 'revoke', '--stdin'], /no token on stdin[\s\S]*--user U or --client C/, ''],
      [['token', 'revoke', 'tsa_on_the_command_line'], /not on the command line/],
      [['token', 'revoke', '--user', 'alice', '--client', 'some-client'], /not --user and --client/],
      [['token', 'revoke', '--stdin', '--user', 'alice'], /not --stdin and --user/],
      [['user', 'frobnicate'], /unknown command 'frobnicate'/],
    ];
    const runs = await Promise.all(
      cases.map(([args, , input], i) => cli(i % 2 ? directEnv : remoteEnv, i % 2 ? args : ['--url', adminUrl, ...args], input)),
    );
    runs.forEach((result, i) => failsClearly(t, result, cases[i]![1]));
  });

  t.test('remote: the credentials, the URL', async (t) => {
    const list = (env: Record<string, string>, args: string[] = ['--url', adminUrl, 'user', 'list']) => cli({ ...remoteEnv, ...env }, args);
    const [wrong, notAdmin, missing, unreachable, publicPort, badUrl, viaEnv, wrongJson, notAdminJson] = await Promise.all([
      list({ TESSERA_ADMIN_CLIENT_SECRET: 'tss_wrong' }),
      list({ TESSERA_ADMIN_CLIENT_ID: plainClient.id, TESSERA_ADMIN_CLIENT_SECRET: plainClient.secret! }),
      list({ TESSERA_ADMIN_CLIENT_SECRET: '' }),
      list({}, ['--url', `http://127.0.0.1:${await freePort()}`, 'user', 'list']),
      list({}, ['--url', issuer, 'user', 'list']),
      list({}, ['--url', 'ftp://example.com', 'user', 'list']),
      list({ TESSERA_ADMIN_URL: `${adminUrl}/` }, ['user', 'list', '--json']),
      list({ TESSERA_ADMIN_CLIENT_SECRET: 'tss_wrong' }, ['user', 'list', '--json', '--url', adminUrl]),
      list({ TESSERA_ADMIN_CLIENT_ID: plainClient.id, TESSERA_ADMIN_CLIENT_SECRET: plainClient.secret! }, [
        '--json',
        '--url',
        adminUrl,
        'client',
        'list',
      ]),
    ]);
    failsClearly(t, wrong, /the admin client's credentials were refused/);
    failsClearly(t, notAdmin, new RegExp(`client ${plainClient.id} may not use the admin API: it is not an admin client`));
    failsClearly(t, missing, /TESSERA_ADMIN_CLIENT_ID and TESSERA_ADMIN_CLIENT_SECRET/);
    failsClearly(t, unreachable, /cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+\/admin\/v1 \(ECONNREFUSED\)/);
    failsClearly(t, publicPort, /is not a Tessera admin API/);
    failsClearly(t, badUrl, /--url must be an http/);
    t.equal(viaEnv.code, 0, `TESSERA_ADMIN_URL works as --url does: ${viaEnv.stderr}`);
    t.match(JSON.parse(viaEnv.stdout), { items: Array, next_cursor: null });
    failsAsJson(t, wrongJson, 'unauthorized', /credentials were refused/);
    failsAsJson(t, notAdminJson, 'forbidden', /not an admin client/);

    // The admin API itself refuses a token without tessera:admin (403), as the command would say.
    const token = await post(
      server.app,
      '/token',
      { grant_type: 'client_credentials' },
      { headers: { authorization: basic(plainClient.id, plainClient.secret!) } },
    );
    const refused = await fetch(`${adminUrl}/admin/v1/users`, { headers: { authorization: `Bearer ${token.body_.access_token}` } });
    t.equal(refused.status, 403);
    t.match(await refused.json(), { status: 403, detail: /tessera:admin/ });
  });

  t.test('--version and help', async (t) => {
    const [version, help, helpCommand, helpUnknown] = await Promise.all([
      cli(directEnv, ['--version']),
      cli(directEnv, ['help']),
      cli(directEnv, ['help', 'client', 'update']),
      cli(directEnv, ['help', 'nothing']),
    ]);
    t.equal(version.code, 0);
    const { version: expected } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    t.equal(version.stdout.trim(), expected);
    t.equal(help.code, 0);
    t.match(help.stdout, /Usage: tessera[\s\S]*--url <url>[\s\S]*audit/);
    t.match(helpCommand.stdout, /Usage: tessera client update \[options\] <client_id>[\s\S]*--no-introspect[\s\S]*--no-admin/);
    failsClearly(t, helpUnknown, /unknown command 'nothing'/);
  });
});
