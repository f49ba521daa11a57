// The admin command, run as a user runs it: `node bin/tessera.js …` in a child process.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { startTessera, testDatabase, testConfig, post, basic } from './helpers/harness.ts';
import { bin, cli, cliEnv, failsClearly } from './helpers/cli.ts';
import { buildApp } from '../src/app.ts';
import { createLogger } from '../src/logger.ts';
import { Tessera } from '../src/tessera.ts';

/** Independent failing commands, run side by side to keep the suite quick. */
async function allFailClearly(t: Test, env: Record<string, string>, cases: [string[], RegExp, string?][]) {
  const runs = await Promise.all(cases.map(([args, , input]) => cli(env, args, input)));
  runs.forEach((run, i) => failsClearly(t, run, cases[i]![1]));
}

// Every command is a process of its own (about 1.5 s to start on this machine, more when busy):
// together they outlast the default timeout when the suite's other job loads the machine too.
t.setTimeout(600_000);

t.test('the tessera command', async (t) => {
  const db = await testDatabase(t);
  const env = cliEnv(db, 'cli-test-secret-cli-test-secret-0123456');
  const json = async (args: string[], input?: string) => {
    const run = await cli(env, ['--json', ...args], input);
    // The failure's name carries what the command said: CI shows the names of failing tests.
    if (run.code !== 0 || run.stdout === '')
      throw new Error(`${args.join(' ')}: exit ${run.code}, stdout ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr)}`);
    return JSON.parse(run.stdout);
  };

  t.test('migrate', async (t) => {
    const first = await cli(env, ['migrate']);
    t.equal(first.code, 0);
    t.match(first.stdout, /applied: \d+_init/);
    const again = await cli(env, ['migrate']);
    t.match(again.stdout, /up to date/);
  });

  t.test('users', async (t) => {
    const created = await json(['user', 'create', 'alice', '--email', 'alice@example.com', '--password-stdin'], 'alice password 1\n');
    t.match(created, { username: 'alice', email: 'alice@example.com', active: true, id: String });
    t.notOk('passwordHash' in created, 'no hash in the output');
    const human = await cli(env, ['user', 'create', 'bob', '--password-stdin'], 'bob password 1');
    t.match(human.stdout, /created user bob/);
    // Each rule the domain enforces is tested in admin-rules.test.ts; here, that the command reports them.
    await allFailClearly(t, env, [
      [['user', 'create', 'alice', '--password-stdin'], /already exists/, 'whatever password'],
      [['user', 'create', 'carol', '--password-stdin'], /at least 12/, 'elevenchars'],
      [['user', 'create', 'erin'], /--password-stdin/],
      [['user', 'show', 'nobody'], /no user "nobody"/],
    ]);

    const list = await json(['user', 'list']);
    t.same(
      list.items.map((u: { username: string }) => u.username),
      ['alice', 'bob'],
    );
    t.match((await cli(env, ['user', 'list'])).stdout, /USERNAME\s+ID\s+EMAIL\s+ACTIVE\s+ROLES\nalice/);
    t.match(await json(['user', 'show', 'alice']), { username: 'alice' });
    t.match(await json(['user', 'deactivate', 'bob']), { active: false });
    t.match(await json(['user', 'activate', 'bob']), { active: true });
    t.match(await json(['user', 'set-password', 'bob', '--password-stdin'], 'bob password 2'), { username: 'bob', active: true });
    t.match(await json(['user', 'delete', 'bob']), { user: 'bob', deleted: true });
  });

  t.test('clients and tokens', async (t) => {
    const conf = await json([
      'client',
      'create',
      '--name',
      'api',
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
    ]);
    t.match(conf, {
      client_id: String,
      client_secret: /^tss_/,
      type: 'confidential',
      grants: ['client_credentials', 'password', 'refresh_token'],
      scopes: ['read', 'write'],
      token_format: 'jwt',
      access_ttl: 600,
      refresh_ttl: 86400,
      audience: 'https://api.example.com',
      introspect: true,
    });
    const pub = await json(['client', 'create', '--name', 'spa', '--public', '--redirect-uri', 'https://app.example.com/cb', '--browser']);
    t.match(pub, {
      type: 'public',
      grants: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://app.example.com/cb'],
      browser: true,
    });
    t.notOk('client_secret' in pub, 'a public client has no secret');
    const human = await cli(env, ['client', 'create', '--name', 'svc']);
    t.match(human.stdout, /client_id:\s+\S+[\s\S]*client_secret: tss_[\s\S]*not shown again/);

    failsClearly(t, await cli(env, ['client', 'create', '--name', 'x', '--grant', 'implicit']), /unknown grant "implicit"/);
    failsClearly(
      t,
      await cli(env, ['client', 'create', '--name', 'x', '--public', '--grant', 'client_credentials']),
      /public client cannot use client_credentials/,
    );
    failsClearly(t, await cli(env, ['client', 'create', '--name', 'x', '--public']), /needs at least one --redirect-uri/);
    failsClearly(t, await cli(env, ['client', 'create', '--name', 'x', '--token-format', 'saml']), /opaque or jwt/);
    failsClearly(t, await cli(env, ['client', 'create', '--name', 'x', '--scope', 'bad"scope']), /invalid scope/);
    failsClearly(
      t,
      await cli(env, ['client', 'create', '--name', 'x', '--grant', 'authorization_code', '--redirect-uri', 'http://evil.example/cb']),
      /https/,
    );
    failsClearly(
      t,
      await cli(env, ['client', 'create', '--name', 'x', '--grant', 'authorization_code', '--redirect-uri', 'https://a.example/cb#frag']),
      /fragment/,
    );
    failsClearly(t, await cli(env, ['client', 'create', '--name', 'x', '--access-ttl', 'soon']), /whole number/);
    failsClearly(t, await cli(env, ['client', 'create', '--name', 'x', '--access-ttl', '0']), /from 1/);
    failsClearly(t, await cli(env, ['client', 'create']), /--name/);
    t.equal((await json(['client', 'list'])).items.length, 3, 'no failed command registered anything');

    t.match(await json(['client', 'show', conf.client_id]), { client_id: conf.client_id, name: 'api' });

    // A running server sees what the command does.
    const server = await Tessera.open(testConfig(db, { TESSERA_SECRET: env.TESSERA_SECRET }), createLogger('silent'), { background: true });
    const app = await buildApp(server);
    t.teardown(async () => {
      await app.close();
      await server.close();
    });
    const grant = (secret: string) =>
      post(app, '/token', { grant_type: 'client_credentials' }, { headers: { authorization: basic(conf.client_id, secret) } });
    t.equal((await grant(conf.client_secret)).statusCode, 200);
    const rotated = await json(['client', 'rotate-secret', conf.client_id]);
    t.match(rotated.client_secret, /^tss_/);
    t.not(rotated.client_secret, conf.client_secret);
    await new Promise((r) => setTimeout(r, 300));
    t.equal((await grant(conf.client_secret)).statusCode, 401, 'the old secret stops working');
    t.equal((await grant(rotated.client_secret)).statusCode, 200, 'the new one works');

    const issued = await json(['token', 'create', '--user', 'alice', '--client', conf.client_id, '--scope', 'read', '--ttl', '120']);
    t.match(issued, { access_token: String, token_type: 'Bearer', scope: 'read', username: 'alice' });
    t.ok(issued.expires_in <= 120 && issued.expires_in >= 119);
    const verify = await post(app, '/token/verify', { token: issued.access_token });
    t.match(verify.body_, { active: true, scope: 'read', client_id: conf.client_id });
    failsClearly(
      t,
      await cli(env, ['token', 'create', '--user', 'alice', '--client', conf.client_id, '--scope', 'admin']),
      /may not ask for: admin/,
    );
    failsClearly(t, await cli(env, ['token', 'create', '--user', 'ghost', '--client', conf.client_id]), /no user "ghost"/);
    failsClearly(t, await cli(env, ['token', 'create', '--user', 'alice']), /--client/);

    failsClearly(t, await cli(env, ['token', 'revoke', issued.access_token]), /stdin/);
    t.equal((await post(app, '/token/verify', { token: issued.access_token })).statusCode, 200, 'a token on the command line is refused');
    failsClearly(t, await cli(env, ['token', 'revoke', '--stdin'], ''), /no token on stdin/);
    t.match(await json(['token', 'revoke', '--stdin'], `${issued.access_token}\n`), { revoked: 'token', found: true });
    await new Promise((r) => setTimeout(r, 300));
    t.equal(
      (await post(app, '/token/verify', { token: issued.access_token })).statusCode,
      401,
      'revoked by the command, seen by the server',
    );

    const second = await json(['token', 'create', '--user', 'alice', '--client', conf.client_id]);
    t.match(await json(['token', 'revoke', '--user', 'alice']), { revoked: 'user', found: true });
    await new Promise((r) => setTimeout(r, 300));
    t.equal((await post(app, '/token/verify', { token: second.access_token })).statusCode, 401, 'revoke --user ends every token');
    t.match(await json(['token', 'prune']), { access_tokens: Number, refresh_tokens: Number, grants: Number });

    const { items: keys } = await json(['keys', 'list']);
    t.equal(keys.length, 1);
    t.match(keys[0], { kid: String, alg: 'ES256', status: 'signing' });
    const { kid } = await json(['keys', 'rotate']);
    t.not(kid, keys[0].kid);
    const after = (await json(['keys', 'list'])).items;
    t.same(after.map((k: { status: string }) => k.status).sort(), ['retired', 'signing']);
    t.match((await cli(env, ['keys', 'list'])).stdout, /KID\s+ALG\s+STATUS/);
    t.match(await json(['keys', 'revoke', keys[0].kid]), { kid: keys[0].kid, revoked: true });
    t.same(
      (await json(['keys', 'list'])).items.map((k: { kid: string }) => k.kid),
      [kid],
      'a revoked key is no longer listed',
    );
    failsClearly(t, await cli(env, ['keys', 'revoke', keys[0].kid]), /no published key/);

    t.match(await json(['client', 'delete', conf.client_id]), { deleted: true });
  });

  t.test('bad usage', async (t) => {
    const unknown = await cli(env, ['frobnicate']);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /unknown command 'frobnicate'/);
    const [badOption, help] = await Promise.all([cli(env, ['user', 'list', '--colour']), cli(env, ['--help'])]);
    t.equal(badOption.code, 1);
    t.match(badOption.stderr, /unknown option '--colour'/);
    t.equal(help.code, 0);
    t.match(help.stdout, /Usage: tessera/);
    const [badUrl, badSecret] = await Promise.all([
      cli({ ...env, DATABASE_URL: 'mysql://x' }, ['user', 'list']),
      cli({ ...env, TESSERA_SECRET: 'short' }, ['user', 'list']),
    ]);
    failsClearly(t, badUrl, /DATABASE_URL must start with/);
    failsClearly(t, badSecret, /TESSERA_SECRET must be at least 32/);
  });
});

t.test('serve answers on its port', async (t) => {
  const { config } = await startTessera(t); // a migrated database
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const env = {
    DATABASE_URL: config.databaseUrl,
    TESSERA_DATA_DIR: config.dataDir,
    TESSERA_SECRET: config.secret!,
    PORT: port,
    TESSERA_ADMIN_PORT: '0',
  };
  const child = spawn(process.execPath, [bin, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  let answered = false;
  for (let i = 0; i < 100 && !answered; i++) {
    await new Promise((r) => setTimeout(r, 100));
    answered = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
  }
  t.ok(answered, 'the server answers /healthz');
  // The admin listener's port (0: a free one) is in the start-up log line.
  const adminAt = /"admin":"127\.0\.0\.1:(\d+)"/.exec(stdout)?.[1];
  t.ok(adminAt, `the admin port is logged: ${stdout.slice(0, 300)}`);
  const metrics = await fetch(`http://127.0.0.1:${adminAt}/metrics`);
  t.equal(metrics.status, 200, '/metrics on the admin listener');
  t.match(await metrics.text(), /tessera_http_requests_total\{route="\/healthz"/);
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404, 'not on the public one');
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'and stops cleanly on SIGTERM');
});
