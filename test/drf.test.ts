// tessera_drf (clients/python) in a real Django REST framework service — Debian's Django 3.2 and
// DRF 3.14, `manage.py runserver` on test/django/drf_app — against a real Tessera listening on a
// port: Tessera's access tokens and DRF keys brought over by `tessera import django` let a request
// in, a refused, revoked or malformed one is 401, another scheme is left to other classes, and a
// Tessera that does not answer is 503, never 401. Also: the settings' checks, and that pip builds
// and installs the package offline.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerClient, type Running } from './helpers/harness.ts';
import { passwordGrant } from './helpers/admin.ts';
import { cli, cliEnv, type Run } from './helpers/cli.ts';
import { freePort, jsonOf, postForm, supervised } from './helpers/server-process.ts';
import { listeningTessera, within, type Listening } from './helpers/verify-kit.ts';
import { djangoSkip, PYTHON } from './helpers/debian-python.ts';

const skip = djangoSkip();

// Debian's Python, which has Django and DRF: not the python3 first on PATH.
const root = fileURLToPath(new URL('..', import.meta.url));
const clientPackage = join(root, 'clients/python');
const drfApp = join(root, 'test/django/drf_app');

/** The package from this repository first on the path; no bytecode written into the repository. */
function pythonEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: clientPackage, PYTHONDONTWRITEBYTECODE: '1', PYTHONNOUSERSITE: '1', ...env };
}

function python(args: string[], env: Record<string, string> = {}, input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, args, { cwd: drfApp, env: pythonEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(input);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A test name that carries what a command said when it failed: CI shows the names of failing tests. */
const ran = (what: string, run: Run) => (run.code === 0 ? what : `${what}: exit ${run.code}: ${run.stdout}${run.stderr}`);

interface Answer {
  status: number;
  body: Record<string, unknown>;
  challenge: string | null;
  retryAfter: string | null;
}

interface DrfService {
  /** GET /whoami with this Authorization header (none when undefined). */
  whoami(authorization?: string): Promise<Answer>;
  /** What the service has logged on stderr so far (a request line each, and any error). */
  stderr(): string;
}

/** `manage.py runserver` with `env`, once it answers; killed at the test's end. */
async function startDrf(t: Test, env: Record<string, string>): Promise<DrfService> {
  const port = await freePort();
  const child = spawn(PYTHON, ['manage.py', 'runserver', `127.0.0.1:${port}`, '--noreload'], {
    cwd: drfApp,
    env: pythonEnv(env),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const { running, stderr } = supervised(t, child);
  const url = `http://127.0.0.1:${port}/whoami`;
  const up = await within(30_000, () => {
    if (!running()) throw new Error(`the DRF service exited at start: ${stderr()}`);
    return fetch(url).then(
      () => true,
      () => false,
    );
  });
  if (!up) throw new Error(`the DRF service did not answer within 30 s: ${stderr()}`);
  return {
    async whoami(authorization) {
      const response = await fetch(url, { headers: authorization === undefined ? {} : { authorization } });
      const body = await jsonOf(response);
      const challenge = response.headers.get('www-authenticate');
      return { status: response.status, body, challenge, retryAfter: response.headers.get('retry-after') };
    },
    stderr,
  };
}

/** `tessera <args> --json` on the server's database, as an operator runs it. */
function tessera(server: Listening, args: string[], input?: string): Promise<Run> {
  return cli({ ...cliEnv(server.db, server.config.secret!), TESSERA_ISSUER: server.issuer }, ['--json', ...args], input);
}

/** What the DRF view should say of a token: what Tessera's /token/verify says of it. */
async function expectedWhoami(server: Running, token: string) {
  const verified = await server.app.inject({ method: 'POST', url: '/token/verify', payload: { token } });
  if (verified.statusCode !== 200) throw new Error(`/token/verify: ${verified.statusCode} ${verified.body}`);
  const claims = verified.json<{ sub: string; client_id: string; scope: string; roles?: string[]; groups?: string[] }>();
  return {
    sub: claims.sub,
    client_id: claims.client_id,
    scope: claims.scope.split(' '),
    roles: claims.roles ?? [],
    groups: claims.groups ?? [],
  };
}

const NO_CREDENTIALS = { detail: 'Authentication credentials were not provided.' };

t.test('TesseraAuthentication in a DRF service, with a real Tessera', { skip }, async (t) => {
  const server = await listeningTessera(t);
  const core = server.tessera;
  const opaqueClient = await registerClient(core, { grants: ['password'], scopes: ['notes:read', 'notes:write'] });
  const jwtClient = await registerClient(core, { grants: ['password'], scopes: ['notes:read'], tokenFormat: 'jwt' });
  const password = 'correct horse battery';
  const alice = await core.users.create('alice', 'alice@example.com', password, { roles: ['editor'], groups: ['staff'] });
  const signIn = async (client: { id: string; secret?: string }) =>
    (await passwordGrant(server.app, client, 'alice', password)).access_token;

  const imported = await python(['-c', 'import tessera_drf; print(tessera_drf.__file__)']);
  t.equal(imported.stdout.trim(), join(clientPackage, 'tessera_drf/__init__.py'), 'the package from this repository');
  const drf = await startDrf(t, { TESSERA_ISSUER: server.issuer });

  t.test('no token: 401 with a Bearer challenge, no error code', async (t) => {
    const answer = await drf.whoami();
    t.equal(answer.status, 401, '401, not 403');
    t.equal(answer.challenge, 'Bearer realm="api"', 'a Bearer challenge');
    t.same(answer.body, NO_CREDENTIALS, 'from IsAuthenticated');
  });

  t.test("Tessera's access tokens, opaque and JWT, as Bearer and as Token", async (t) => {
    for (const [client, shape] of [
      [opaqueClient, /^tsa_/],
      [jwtClient, /^ey[\w-]+\.[\w-]+\.[\w-]+$/],
    ] as const) {
      const token = await signIn(client);
      t.match(token, shape, `a ${client.client.tokenFormat} token`);
      const expected = await expectedWhoami(server, token);
      t.match(expected, { sub: alice.id, client_id: client.id, scope: client.client.scopes }, "alice's, by Tessera's answer");
      for (const scheme of ['Bearer', 'Token', 'bearer', 'TOKEN']) {
        const answer = await drf.whoami(`${scheme} ${token}`);
        t.equal(answer.status, 200, `${scheme}: let in`);
        t.same(answer.body, expected, `${scheme}: who and what, as Tessera said`);
      }
    }
  });

  const tokenClient = await registerClient(core, { name: 'drf keys', scopes: ['notes:read'] });
  const drfKey = randomBytes(20).toString('hex');

  t.test('a DRF key imported by `tessera import django`, as Token <key>', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-drf-dump-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const dump = join(dir, 'dump.json');
    // What Django 3.2's `dumpdata auth.user authtoken.token` writes for one user and their key.
    const userFields = {
      password: `!${randomBytes(20).toString('hex')}`,
      last_login: null,
      is_superuser: false,
      username: 'dave',
      first_name: 'Dave',
      last_name: 'Bowman',
      email: 'dave@example.com',
      is_staff: false,
      is_active: true,
      date_joined: '2024-01-01T00:00:00Z',
      groups: [],
      user_permissions: [],
    };
    writeFileSync(
      dump,
      JSON.stringify([
        { model: 'auth.user', pk: 1, fields: userFields },
        { model: 'authtoken.token', pk: drfKey, fields: { user: 1, created: '2024-01-01T00:00:00Z' } },
      ]),
    );
    const run = await tessera(server, ['import', 'django', dump, '--token-client', tokenClient.id]);
    t.equal(run.code, 0, ran('tessera import django', run));
    t.match(JSON.parse(run.stdout), { dry_run: false, users: { created: 1 }, tokens: { created: 1 } }, 'one user, one key');

    const dave = await core.users.find('dave');
    for (const scheme of ['Token', 'token', 'Bearer']) {
      const answer = await drf.whoami(`${scheme} ${drfKey}`);
      t.equal(answer.status, 200, `${scheme}: let in`);
      t.same(answer.body, { sub: dave.id, client_id: tokenClient.id, scope: ['notes:read'], roles: [], groups: [] }, scheme);
    }
  });

  t.test('a revoked token is 401 within a second, through the cache', async (t) => {
    const byClient = (client: { id: string; secret?: string }) => async (token: string) => {
      const answer = await postForm(`${server.issuer}/revoke`, { token }, { id: client.id, secret: client.secret! });
      if (answer.status !== 200) throw new Error(`/revoke: ${answer.status} ${JSON.stringify(answer.body)}`);
    };
    const byCommand = async (token: string) => {
      const run = await tessera(server, ['token', 'revoke', '--stdin'], token);
      if (run.code !== 0) throw new Error(ran('tessera token revoke', run));
    };
    const cases: [string, string, (token: string) => Promise<void>][] = [
      ['opaque, POST /revoke by its client', await signIn(opaqueClient), byClient(opaqueClient)],
      ['JWT, POST /revoke by its client', await signIn(jwtClient), byClient(jwtClient)],
      ['imported DRF key, `tessera token revoke`', drfKey, byCommand],
    ];
    for (const [what, token, revoke] of cases) {
      const authorization = `${what.startsWith('imported') ? 'Token' : 'Bearer'} ${token}`;
      t.equal((await drf.whoami(authorization)).status, 200, `${what}: valid, and so remembered`);
      await revoke(token);
      t.ok(await within(1000, async () => (await drf.whoami(authorization)).status === 401), `${what}: 401 within a second`);
      const answer = await drf.whoami(authorization);
      t.equal(answer.status, 401, `${what}: still 401`);
      t.equal(answer.challenge, 'Bearer realm="api", error="invalid_token"', `${what}: the challenge says invalid_token`);
      t.same(answer.body, { detail: 'Invalid token.' }, `${what}: Invalid token.`);
    }
  });

  t.test('a malformed header is 401; another scheme is left to other classes', async (t) => {
    const refused = [
      ['two tokens', 'Bearer a b', 'Invalid token header. Token string should not contain spaces.'],
      ['Token alone', 'Token', 'Invalid token header. No credentials provided.'],
      ['Bearer alone', 'Bearer', 'Invalid token header. No credentials provided.'],
      ['not printable ASCII', 'Bearer tok\u00e9n', 'Invalid token header. Token string should not contain invalid characters.'],
      ['longer than Tessera takes', `Bearer ${'x'.repeat(4097)}`, 'Invalid token.'],
      ['well-formed, refused by Tessera', 'Bearer tsa_not-a-token', 'Invalid token.'],
    ] as const;
    for (const [what, authorization, detail] of refused) {
      const answer = await drf.whoami(authorization);
      t.equal(answer.status, 401, what);
      t.same(answer.body, { detail }, `${what}: ${detail}`);
      t.equal(answer.challenge, 'Bearer realm="api", error="invalid_token"', `${what}: the challenge says invalid_token`);
    }
    for (const authorization of [`Basic ${Buffer.from('alice:pw').toString('base64')}`, 'Negotiate abc', 'Bearertoken']) {
      const answer = await drf.whoami(authorization);
      t.equal(answer.status, 401, `${authorization}: 401 from IsAuthenticated`);
      t.same(answer.body, NO_CREDENTIALS, `${authorization}: no credentials, as far as DRF knows`);
      t.equal(answer.challenge, 'Bearer realm="api"', `${authorization}: no error code`);
    }
  });

  t.test('Tessera stopped: 503, never 401 and never let through', async (t) => {
    const unseen = await signIn(opaqueClient);
    await server.app.close();
    const tokens = [
      ['a valid token not asked about yet', `Bearer ${unseen}`],
      ['an unknown token', 'Bearer tsa_not-a-token'],
      ['a DRF key never imported', `Token ${randomBytes(20).toString('hex')}`],
    ] as const;
    for (const [what, authorization] of tokens) {
      const answer = await drf.whoami(authorization);
      t.equal(answer.status, 503, what);
      t.same(answer.body, { detail: 'authentication service unavailable' }, `${what}: says why`);
      t.equal(answer.retryAfter, '1', `${what}: Retry-After`);
      t.equal(answer.challenge, null, `${what}: no challenge, the token is not at fault`);
    }
    t.equal((await drf.whoami()).status, 401, 'no token: no need to ask, 401 as before');
    t.match(drf.stderr(), /Tessera at http:\/\/127\.0\.0\.1:\d+\/token\/verify: no answer/, 'logged, without the token');
    t.notOk(drf.stderr().includes(unseen), 'the token is not in the log');
  });

  t.test('no request was a server error', async (t) => {
    t.notMatch(drf.stderr(), /Traceback|Internal Server Error|" 500 /);
  });
});

t.test('a Tessera that does not answer in time: 503 after TIMEOUT', { skip }, async (t) => {
  // A listener that takes connections and never answers: a hung Tessera, as the client sees it.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const { port } = silent.address() as net.AddressInfo;
  const drf = await startDrf(t, { TESSERA_ISSUER: `http://127.0.0.1:${port}`, TESSERA_TIMEOUT: '0.3' });
  const answer = await drf.whoami(`Bearer tsa_${randomBytes(16).toString('hex')}`);
  t.equal(answer.status, 503, '503, not 401');
  t.same(answer.body, { detail: 'authentication service unavailable' }, 'says why');
  t.ok(sockets.size > 0, 'it did ask');
  t.match(drf.stderr(), /no answer \(.*timed out/, 'logged as a timeout');
});

t.test('the settings are checked, with messages that name the key', { skip }, async (t) => {
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const cases: [unknown, RegExp | 'unavailable'][] = [
    // Taken (and Tessera asked, where nothing listens); override_settings swaps what follows in.
    [{ ISSUER: nowhere, AUDIENCE: 'https://api.example.com', CACHE_SECONDS: 0, TIMEOUT: 1 }, 'unavailable'],
    [null, /settings\.TESSERA must be a dict/],
    [{}, /settings\.TESSERA needs ISSUER/],
    [{ ISSUER: 'auth.example.com' }, /\['ISSUER'\] must be an http\(s\) URL/],
    [{ ISSUER: 'https://auth.example.com?x=1' }, /\['ISSUER'\] must be an http\(s\) URL without query/],
    [{ ISSUER: 'http://[::1' }, /\['ISSUER'\] must be an http\(s\) URL/],
    [{ ISSUER: nowhere, VERIFY_URL: 'ftp://auth.example.com' }, /\['VERIFY_URL'\] must be an http\(s\) URL/],
    [{ ISSUER: nowhere, AUDIENCE: '' }, /\['AUDIENCE'\] must be a non-empty string/],
    [{ ISSUER: nowhere, CACHE_SECONDS: 1 }, /\['CACHE_SECONDS'\] must be a number of seconds, at least 0 and under 1/],
    [{ ISSUER: nowhere, CACHE_SECONDS: -0.1 }, /\['CACHE_SECONDS'\]/],
    [{ ISSUER: nowhere, TIMEOUT: 0 }, /\['TIMEOUT'\] must be a number of seconds, above 0/],
    [{ ISSUER: nowhere, TIMEOUT: '2' }, /\['TIMEOUT'\]/],
    [{ ISSUER: nowhere, TIMEOUT: true }, /\['TIMEOUT'\]/],
    [{ ISSUER: nowhere, AUDIANCE: 'x' }, /unknown keys AUDIANCE; it takes ISSUER, AUDIENCE/],
  ];
  const run = await python(['settings_errors.py'], {}, JSON.stringify(cases.map(([config]) => config)));
  t.equal(run.code, 0, ran('settings_errors.py', run));
  const outcomes = JSON.parse(run.stdout) as string[];
  cases.forEach(([config, expected], i) => t.match(outcomes[i], expected, JSON.stringify(config)));
});

t.test('pip builds and installs the package offline, needing only Django and DRF', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'tessera-drf-pip-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  // pip builds in the source tree (build/, *.egg-info): a copy keeps the repository as it is.
  cpSync(clientPackage, join(work, 'source'), { recursive: true });
  const pip = (args: string[]) => python(['-m', 'pip', ...args, '--no-deps', '--no-index', '--disable-pip-version-check']);
  const built = await pip(['wheel', '--no-build-isolation', '-w', join(work, 'wheels'), join(work, 'source')]);
  t.equal(built.code, 0, ran('pip wheel', built));
  const wheels = readdirSync(join(work, 'wheels'));
  t.same(wheels, ['tessera_drf-0.1.0-py3-none-any.whl'], 'one pure-Python wheel');
  const installed = await pip(['install', '--target', join(work, 'site'), join(work, 'wheels', wheels[0]!)]);
  t.equal(installed.code, 0, ran('pip install', installed));
  const script = 'import json, importlib.metadata as m, tessera_drf; print(json.dumps([tessera_drf.__file__, m.requires("tessera-drf")]))';
  const imported = await python(['-c', script], { PYTHONPATH: join(work, 'site') });
  t.equal(imported.code, 0, ran('import tessera_drf', imported));
  const [file, requires] = JSON.parse(imported.stdout) as [string, string[]];
  t.equal(file, join(work, 'site', 'tessera_drf/__init__.py'), 'imported from where pip put it');
  t.same(
    requires.map((requirement) => /^[\w-]+/.exec(requirement)?.[0]),
    ['Django', 'djangorestframework'],
  );
});
