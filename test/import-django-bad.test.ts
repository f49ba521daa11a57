// `tessera import django` refusing a dump: each bad input is told with the line where its record
// starts and its position (in a `dumpdata --indent 2` dump, where each record has its own lines),
// exit status 1, nothing written — dry run or not, and however many good records the dump also
// holds —, as `invalid_dump` under --json, as lines on stderr without, and as a 400 problem from the
// admin API. The dumps are Django's own (test/django/make_dump.py), each with one edit.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { post, registerClient, registerUser } from './helpers/harness.ts';
import { cli, cliEnv } from './helpers/cli.ts';
import { isProblem, startAdmin } from './helpers/admin.ts';
import { djangoJson, importDjango, imported, makeDump, snapshot, type DumpRecord, type InvalidDump } from './helpers/django.ts';
import { MAX_DUMP_BYTES } from '../src/domain/django-import.ts';
import { djangoSkip } from './helpers/debian-python.ts';

const skip = djangoSkip();

// Some seventy runs of the command, each a process of its own.
t.setTimeout(600_000);

interface Expected {
  line: number;
  /** The record's position; null for the file as a whole. */
  record: number | null;
  model?: string | null;
  pk?: unknown;
  message: RegExp;
}

interface Case {
  name: string;
  text: string;
  problems: Expected[];
  /** The options after the file; by default the token client. */
  options?: string[];
}

t.test('bad dumps: told with line and record, nothing written', { skip }, async (t) => {
  const running = await startAdmin(t);
  const { tessera, app } = running;
  const env = cliEnv(running.db, running.config.secret!);
  const dir = running.db.dataDir;
  const dump = await makeDump(dir, { indent: 2 });
  const tokenClient = await registerClient(tessera, { name: 'drf tokens', scopes: ['read'] });
  // Already in Tessera: a dump's username that differs from it only in case is refused.
  await registerUser(tessera, 'Operator');
  const options = ['--token-client', tokenClient.id];

  const index = (model: string, has: (fields: Record<string, unknown>) => boolean) => {
    const found = dump.records.findIndex((r) => r.model === model && has(r.fields));
    if (found < 0) throw new Error(`no ${model} record as wanted in the dump`);
    return found;
  };
  const userAt = (username: string) => index('auth.user', (f) => f.username === username);
  const grantAt = (grant: string) => index('oauth2_provider.application', (f) => f.authorization_grant_type === grant);
  const firstToken = index('authtoken.token', () => true);
  const key = String(dump.records[firstToken]!.pk);
  const shortKey = `${key.slice(0, 8)}…`;
  const { lines } = djangoJson(dump.records);

  /** The dump with one edit made to a copy of its records: the text, and where each record starts. */
  const edited = (change: (records: DumpRecord[]) => void) => {
    const records = structuredClone(dump.records);
    change(records);
    return djangoJson(records);
  };
  /** The dump with one user's fields changed; the problem is at that user's record. */
  const userCase = (name: string, username: string, fields: Record<string, unknown>, message: RegExp): Case => {
    const at = userAt(username);
    const { text } = edited((records) => Object.assign(records[at]!.fields, fields));
    return { name, text, problems: [{ line: lines[at]!, record: at + 1, model: 'auth.user', pk: dump.records[at]!.pk, message }] };
  };
  const hashOf = (username: string) => String(dump.records[userAt(username)]!.fields.password);
  /** A new user record, after the last user: a copy of bob's with another pk and `fields`. */
  const lastUser = dump.records.map((r) => r.model).lastIndexOf('auth.user');
  const extraUser = (name: string, fields: Record<string, unknown>, message: RegExp, twinOf?: number): Case => {
    const record = { ...structuredClone(dump.records[userAt('bob')]!), pk: 90 };
    Object.assign(record.fields, fields);
    const { text, lines: at } = edited((records) => records.splice(lastUser + 1, 0, record));
    // "Both lines named": the problem is at the new record, and names its twin's line.
    const twin = twinOf === undefined ? message : new RegExp(`${message.source}[\\s\\S]*\\b${lines[twinOf]}\\b`);
    return { name, text, problems: [{ line: at[lastUser + 1]!, record: lastUser + 2, model: 'auth.user', pk: 90, message: twin }] };
  };
  /** The dump with one application's fields changed. */
  const applicationCase = (name: string, grant: string, fields: Record<string, unknown>, message: RegExp): Case => {
    const at = grantAt(grant);
    const { text } = edited((records) => Object.assign(records[at]!.fields, fields));
    return {
      name,
      text,
      problems: [{ line: lines[at]!, record: at + 1, model: 'oauth2_provider.application', pk: dump.records[at]!.pk, message }],
    };
  };
  /** The dump with one token changed (its pk or fields); the problem is at it. */
  const tokenCase = (name: string, change: Partial<DumpRecord>, message: RegExp, pk?: unknown): Case => {
    const { text } = edited((records) => Object.assign(records[firstToken]!, change));
    return {
      name,
      text,
      problems: [
        { line: lines[firstToken]!, record: firstToken + 1, model: 'authtoken.token', ...(pk === undefined ? {} : { pk }), message },
      ],
    };
  };
  /** A record inserted as the third. */
  const inserted = (name: string, record: unknown, expected: Omit<Expected, 'line' | 'record'>): Case => {
    const { text, lines: at } = edited((records) => records.splice(2, 0, record as DumpRecord));
    return { name, text, problems: [{ line: at[2]!, record: 3, ...expected }] };
  };
  const staffLine = dump.text.split('\n').findIndex((line) => line.includes('"is_staff": false,'));
  const notJson = dump.text
    .split('\n')
    .map((line, i) => (i === staffLine ? line.replace('false', 'fals') : line))
    .join('\n');

  const mixed = edited((records) => {
    records[userAt('bob')]!.fields.email = 'bob at example.com';
    records[firstToken]!.fields.user = 999;
    records[grantAt('password')]!.fields.authorization_grant_type = 'device-code';
  });
  const mixedProblems = [
    { line: lines[userAt('bob')]!, record: userAt('bob') + 1, model: 'auth.user', message: /email/ },
    { line: lines[firstToken]!, record: firstToken + 1, model: 'authtoken.token', pk: shortKey, message: /999/ },
    { line: lines[grantAt('password')]!, record: grantAt('password') + 1, model: 'oauth2_provider.application', message: /device-code/ },
  ];

  const cases: Case[] = [
    inserted(
      'an unknown model',
      { model: 'auth.group', pk: 1, fields: { name: 'staff', permissions: [] } },
      { model: 'auth.group', pk: 1, message: /model/ },
    ),
    inserted('a record without fields', { model: 'auth.user', pk: 91 }, { model: 'auth.user', pk: 91, message: /fields/ }),
    inserted(
      'a record without pk',
      { model: 'auth.user', fields: { username: 'nopk', password: '' } },
      { model: 'auth.user', message: /pk/ },
    ),
    inserted('a record that is not an object', 'auth.user', { message: /object/ }),
    userCase('pbkdf2 iterations that are no number', 'alice', { password: hashOf('alice').replace('$260000$', '$many$') }, /password/),
    userCase('a pbkdf2 hash without its salt', 'alice', { password: hashOf('alice').replace(/\$[^$]+\$(?=[^$]+$)/, '$') }, /password/),
    userCase('a bcrypt_sha256 hash cut short', 'carol', { password: hashOf('carol').slice(0, -10) }, /password/),
    userCase(
      'an argon2 hash without its parameters',
      'érin.müller',
      { password: hashOf('érin.müller').replace(/\$m=[^$]+/, '') },
      /password/,
    ),
    userCase('a scrypt hash whose hash is not base64', 'frank', { password: hashOf('frank').replace(/.{4}$/, '!!!!') }, /password/),
    userCase('an unknown algorithm', 'judy', { password: 'whirlpool$1000$salt$c2VjcmV0' }, /password/),
    userCase('pbkdf2 at a billion iterations', 'alice', { password: hashOf('alice').replace('$260000$', '$1000000000$') }, /password/),
    userCase('bcrypt at cost 31', 'dave', { password: hashOf('dave').replace('$12$', '$31$') }, /password/),
    userCase('argon2 with 4 GiB of memory', 'érin.müller', { password: hashOf('érin.müller').replace(/m=\d+/, 'm=4194304') }, /password/),
    userCase('scrypt with N = 2^30', 'frank', { password: hashOf('frank').replace(/^scrypt\$\d+\$/, 'scrypt$1073741824$') }, /password/),
    extraUser('a duplicate username', { username: 'bob' }, /bob/, userAt('bob')),
    extraUser('usernames that differ only in case', { username: 'BOB' }, /BOB/, userAt('bob')),
    extraUser("a username differing only in case from a Tessera user's", { username: 'operator' }, /operator/i),
    userCase('a username with a space', 'alice', { username: 'alice liddell' }, /username/),
    userCase('a username over 128 characters', 'alice', { username: 'a'.repeat(129) }, /username/),
    userCase('a bad email', 'bob', { email: 'bob at example.com' }, /email/),
    tokenCase('a DRF token of a user not in the dump', { fields: { ...dump.records[firstToken]!.fields, user: 999 } }, /999/, shortKey),
    tokenCase('a token key of 39 hex digits', { pk: key.slice(1) }, /key|hex/),
    tokenCase('a token key that is not hex', { pk: 'z'.repeat(40) }, /key|hex/),
    { ...tokenCase('tokens without --token-client', {}, /--token-client/, shortKey), options: [] },
    applicationCase(
      'a plain http redirect URI',
      'authorization-code',
      { redirect_uris: 'https://portal.example.com/callback http://portal.example.com/insecure' },
      /redirect|http/,
    ),
    applicationCase(
      'a redirect URI with a fragment',
      'authorization-code',
      { redirect_uris: 'https://portal.example.com/cb#top' },
      /fragment/,
    ),
    applicationCase('an unknown DOT grant type', 'password', { authorization_grant_type: 'device-code' }, /device-code/),
    { name: 'a file that is not JSON', text: notJson, problems: [{ line: staffLine + 1, record: null, message: /JSON/ }] },
    {
      name: 'JSON that is not an array',
      text: `${JSON.stringify(dump.records[0], null, 2)}\n`,
      problems: [{ line: 1, record: null, message: /array/ }],
    },
    { name: 'an empty file', text: '', problems: [{ line: 1, record: null, message: /./ }] },
    { name: 'three problems at once', text: mixed.text, problems: mixedProblems },
  ];

  const before = await snapshot(env);
  const written = async () => ({ users: (await tessera.users.list()).length, clients: (await tessera.clients.list()).length });
  const nothing = await written();

  for (const [i, bad] of cases.entries()) {
    t.test(bad.name, async (t) => {
      const file = join(dir, `bad-${i}.json`);
      writeFileSync(file, bad.text);
      const args = [file, ...(bad.options ?? options)];
      const [real, dry] = await Promise.all([importDjango(env, args), importDjango(env, [...args, '--dry-run'])]);
      const count = bad.problems.length;
      for (const [run, how] of [
        [real, 'import'],
        [dry, 'dry run'],
      ] as const) {
        t.equal(run.code, 1, `${how}: exit 1`);
        t.match(
          run.body,
          {
            error: 'invalid_dump',
            message: `${count} problem${count === 1 ? '' : 's'} in the dump; nothing was written`,
            problems: bad.problems,
          },
          `${how}: invalid_dump, with line and record`,
        );
        t.equal((run.body as InvalidDump | undefined)?.problems.length, count, `${how}: ${count} problem(s)`);
        t.equal(run.stderr, '', `${how}: under --json, nothing on stderr`);
        t.notOk(`${run.stdout}${run.stderr}`.includes(key), `${how}: no DRF key in full`);
      }
      t.same(dry.body, real.body, 'the dry run tells the same');
      t.same(await written(), nothing, 'nothing written');
    });
  }

  t.test('without --json: the problems on stderr, one a line', async (t) => {
    const file = join(dir, 'mixed.json');
    writeFileSync(file, mixed.text);
    const run = await cli(env, ['import', 'django', file, ...options]);
    t.equal(run.code, 1, 'exit 1');
    t.equal(run.stdout, '', 'nothing on stdout');
    const [first, ...rest] = run.stderr.trimEnd().split('\n');
    t.equal(first, 'tessera: 3 problems in the dump; nothing was written');
    t.equal(rest.length, 3, 'one line a problem');
    mixedProblems.forEach((problem, i) => {
      const pk = 'pk' in problem ? problem.pk : String(dump.records[problem.record - 1]!.pk);
      t.ok(rest[i]?.startsWith(`  line ${problem.line}, record ${problem.record} (${problem.model} ${pk}): `), `"${rest[i]}"`);
      t.match(rest[i], problem.message);
    });
    t.notOk(run.stderr.includes(key), 'the DRF key shortened');
  });

  t.test('what is not in the dump: the file, its size, the token client', async (t) => {
    const missing = join(dir, 'no-such-dump.json');
    // Valid JSON but for its size: the dump itself, padded past the limit.
    const large = join(dir, 'large.json');
    writeFileSync(large, dump.text.padEnd(MAX_DUMP_BYTES + 1, ' '));
    const [absent, tooLarge, tooLargeDry, unknownClient, adminClient] = await Promise.all([
      importDjango(env, [missing, ...options]),
      importDjango(env, [large, ...options]),
      importDjango(env, [large, ...options, '--dry-run']),
      importDjango(env, [dump.path, '--token-client', 'no-such-client']),
      importDjango(env, [dump.path, '--token-client', running.adminClient.id]),
    ]);
    t.equal(absent.code, 1, 'a missing file: exit 1');
    t.match(absent.body, { error: String, message: /no-such-dump\.json/ }, 'a missing file is named');
    for (const run of [tooLarge, tooLargeDry]) {
      t.equal(run.code, 1, 'a file too large: exit 1');
      t.match(run.body, { error: String, message: /MiB|large/ }, 'its size is the reason');
    }
    t.equal(unknownClient.code, 1, 'an unknown --token-client: exit 1');
    t.match(unknownClient.body, { error: String, message: /no-such-client/ }, 'the client is named');
    t.equal(adminClient.code, 1, 'an admin client for the keys: exit 1');
    t.same(await written(), nothing, 'nothing written');
  });

  t.test('the admin API: 400, a problem with the problems', async (t) => {
    const body = { dump: mixed.text, token_client: tokenClient.id };
    for (const sent of [body, { ...body, dry_run: true }]) {
      const response = await running.call('POST', '/import/django', sent);
      isProblem(t, response, 400, sent === body ? 'import' : 'dry run', /3 problems in the dump; nothing was written/);
      t.match(response.body?.problems, mixedProblems);
      t.notOk(response.text.includes(key), 'the DRF key shortened');
    }
    t.same(await written(), nothing, 'nothing written');
  });

  t.test('the database is as it was', async (t) => {
    t.same(await snapshot(env), before, 'user list and client list');
    for (const token of dump.tokens)
      t.equal((await post(app, '/token/verify', { token: token.key })).statusCode, 401, 'no DRF key verifies');
  });

  t.test('the dump itself imports: the refusals were the edits', async (t) => {
    const summary = await imported(env, [dump.path, ...options]);
    t.match(summary, {
      users: { created: dump.users.length },
      tokens: { created: dump.tokens.length },
      clients: { created: dump.applications.length },
    });
    t.ok(summary.warnings.length > 0, 'with warnings (legacy hashes, an implicit application)');
    t.same(
      summary.warnings.map((w) => w.line),
      summary.warnings.map((w) => lines[w.record - 1]),
      'each warning at the line where its record starts',
    );
    // A later dump's token finds its user imported before (by Django's pk), and one of a user never imported is refused.
    const laterKey = 'c0ffee'.padEnd(40, '0');
    const alicePk = dump.users.find((u) => u.username === 'alice')!.pk;
    const later = (user: number) =>
      djangoJson([{ model: 'authtoken.token', pk: laterKey, fields: { user, created: '2026-01-01T00:00:00Z' } }]).text;
    writeFileSync(join(dir, 'later.json'), later(alicePk));
    writeFileSync(join(dir, 'stranger.json'), later(999));
    const stranger = await importDjango(env, [join(dir, 'stranger.json'), ...options]);
    t.match(stranger.body, {
      error: 'invalid_dump',
      problems: [{ line: 2, record: 1, model: 'authtoken.token', pk: 'c0ffee00…', message: /999/ }],
    });
    t.match(
      await imported(env, [join(dir, 'later.json'), ...options]),
      { users: { created: 0 }, tokens: { created: 1, unchanged: 0 } },
      'a later key of alice',
    );
    const verified = await post(app, '/token/verify', {}, { headers: { authorization: `Token ${laterKey}` } });
    t.match(verified.body_, { active: true, sub: (await tessera.users.find('alice')).id });
  });
});
