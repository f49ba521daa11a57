// Consent: what users approved of third-party clients (the Consents service /authorize uses), and
// how an operator sees and withdraws it — the admin API and `tessera user consents`, on the
// database and through a running server. Withdrawing an approval ends the user's grants with that
// client, and only those; the command also sets a client's consent and post-logout redirect URIs.
import t, { type Test } from 'tap';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ACTIVE, INACTIVE, isProblem, passwordGrant, refresh, startAdmin, tokenState, type Call } from './helpers/admin.ts';
import { cli, cliEnv, failsClearly, type Run } from './helpers/cli.ts';
import { registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';
import { pkcePair } from './helpers/pkce.ts';
import { freePort } from './helpers/server-process.ts';

// The command runs about fifty times, each a process of its own: far more than the default timeout on a busy machine.
t.setTimeout(900_000);

t.test('Consents: an approval is the union of what was approved, and covers any subset of it', async (t) => {
  const { tessera } = await startTessera(t);
  const { user } = await registerUser(tessera);
  const { user: bob } = await registerUser(tessera, 'bob');
  const notes = await registerClient(tessera, { name: 'Notes', consent: true, scopes: ['openid', 'profile', 'email', 'notes'] });
  const other = await registerClient(tessera, { name: 'Other', consent: true, scopes: ['openid'] });
  const { consents } = tessera;

  t.notOk(await consents.covers(user.id, notes.id, ['openid']), 'nothing approved yet');
  t.notOk(await consents.covers(user.id, notes.id, []), 'not even the empty request: there is no approval');
  t.same(await consents.list(user.id), [], 'no approvals');

  await consents.approve(user.id, notes.id, ['openid', 'profile']);
  const [first] = await consents.list(user.id);
  t.match(first, { userId: user.id, clientId: notes.id, scopes: ['openid', 'profile'] });
  for (const subset of [[], ['openid'], ['profile'], ['profile', 'openid']])
    t.ok(await consents.covers(user.id, notes.id, subset), `covers ${JSON.stringify(subset)}`);
  t.notOk(await consents.covers(user.id, notes.id, ['openid', 'email']), 'a scope not approved is not covered');
  t.notOk(await consents.covers(user.id, other.id, ['openid']), 'an approval is for one client');
  t.notOk(await consents.covers(bob.id, notes.id, ['openid']), 'and for one user');

  await new Promise((resolve) => setTimeout(resolve, 20));
  await consents.approve(user.id, notes.id, ['email', 'openid']);
  const [second] = await consents.list(user.id);
  t.same(second!.scopes, ['openid', 'profile', 'email'], 'the new scope joins those approved before');
  t.equal(second!.createdAt.getTime(), first!.createdAt.getTime(), 'created when first approved');
  t.ok(second!.updatedAt > first!.updatedAt, 'updated now');
  await consents.approve(user.id, notes.id, ['profile']);
  t.same((await consents.list(user.id))[0]!.scopes, ['openid', 'profile', 'email'], 'a narrower approval drops nothing');
  t.ok(await consents.covers(user.id, notes.id, ['openid', 'profile', 'email']), 'all three are covered');

  // Approvals at once: none loses another's scopes.
  await Promise.all(['a', 'b', 'c', 'd', 'e'].map((scope) => consents.approve(bob.id, notes.id, [scope])));
  t.same([...(await consents.list(bob.id))[0]!.scopes].sort(), ['a', 'b', 'c', 'd', 'e'], 'concurrent approvals all count');
  await Promise.all(['f', 'g'].map((scope) => consents.approve(bob.id, other.id, [scope])));
  t.same(
    (await consents.list(bob.id)).map((c) => c.clientId),
    [notes.id, other.id].sort(),
    'listed in client_id order, one per client',
  );

  t.equal(await consents.revoke(user.id, notes.id), true, 'withdrawn');
  t.notOk(await consents.covers(user.id, notes.id, ['openid']), 'asked again after that');
  t.equal(await consents.revoke(user.id, notes.id), false, 'a second withdrawal: there was none');
  t.equal(await consents.revoke(user.id, other.id), false, 'nor for a client never approved');
  t.equal((await consents.list(bob.id)).length, 2, "another user's approvals stay");

  // Deleting the client or the user takes their approvals along.
  await tessera.clients.delete(other.id);
  t.same(
    (await consents.list(bob.id)).map((c) => c.clientId),
    [notes.id],
    'a deleted client leaves no approval',
  );
  await tessera.users.delete('bob');
  t.same(await consents.list(bob.id), [], 'nor does a deleted user');
});

/** Every client_id in the user's approvals, through the admin API, page after page of `limit`. */
t.test('a code issued under an approval withdrawn before its exchange starts nothing', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { user } = await registerUser(tessera);
  const redirectUri = 'https://notes.example.com/cb';
  const notes = await registerClient(tessera, {
    name: 'Notes',
    public: true,
    consent: true,
    redirectUris: [redirectUri],
    scopes: ['openid', 'notes'],
  });
  const many = Array.from({ length: 21 }, (_, i) => `https://notes.example.com/bye/${i}`);
  await t.rejects(
    tessera.clients.register({ name: 'Many', postLogoutRedirectUris: many }),
    /at most 20 post-logout redirect URIs/,
    'the admin API’s limits hold on the database too',
  );
  const { verifier, challenge } = pkcePair();
  const issue = () =>
    tessera.tokens.issueCode({
      clientId: notes.id,
      userId: user.id,
      redirectUri,
      scope: 'openid notes',
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    });
  const exchange = (value: string) =>
    tokenRequest(
      app,
      { id: notes.id },
      { grant_type: 'authorization_code', code: value, redirect_uri: redirectUri, code_verifier: verifier },
    );

  await tessera.consents.approve(user.id, notes.id, ['openid', 'notes']);
  const kept = await exchange(await issue());
  t.equal(kept.statusCode, 200, 'under a standing approval the exchange works');

  // /authorize checked the approval, then the withdrawal committed, then the code's (batched)
  // write landed: the code exists, but the family its exchange starts is ended at once.
  await tessera.consents.revoke(user.id, notes.id);
  const late = await issue();
  const refused = await exchange(late);
  t.equal(refused.statusCode, 400);
  t.equal(refused.json().error, 'invalid_grant', 'the exchange is refused');
  t.equal(
    (await tokenRequest(app, { id: notes.id }, { grant_type: 'refresh_token', refresh_token: kept.json().refresh_token })).json().error,
    'invalid_grant',
    'and the family from before the withdrawal ended with it',
  );
});

async function listedIds(t: Test, call: Call, user: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = new URLSearchParams({ limit: String(limit), ...(cursor === null ? {} : { cursor }) }).toString();
    const page = await call('GET', `/users/${user}/consents?${query}`);
    t.equal(page.status, 200, page.text);
    ids.push(...page.body.items.map((item: { client_id: string }) => item.client_id));
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  return ids;
}

t.test('the admin API lists approvals and withdraws one, ending that client’s grants only', async (t) => {
  const { app, tessera, call, adminClient, introspector } = await startAdmin(t);
  const { user: alice, password } = await registerUser(tessera);
  await registerUser(tessera, 'bob');
  // JWT access tokens: the server must learn that their grant ended (the grant cache), not only the database.
  const notes = await registerClient(tessera, {
    name: 'Notes',
    consent: true,
    grants: ['password'],
    scopes: ['notes', 'profile'],
    tokenFormat: 'jwt',
  });
  const calendar = await registerClient(tessera, { name: 'Calendar', consent: true, grants: ['password'], scopes: ['calendar'] });
  const aliceNotes = await passwordGrant(app, notes, 'alice', password);
  const aliceNotesAgain = await passwordGrant(app, notes, 'alice', password);
  const aliceCalendar = await passwordGrant(app, calendar, 'alice', password);
  const bobNotes = await passwordGrant(app, notes, 'bob', password);
  await tessera.consents.approve(alice.id, notes.id, ['notes', 'profile']);
  await tessera.consents.approve(alice.id, calendar.id, ['calendar']);
  const bob = await tessera.users.find('bob');
  await tessera.consents.approve(bob.id, notes.id, ['notes']);

  const listed = await call('GET', '/users/alice/consents');
  t.equal(listed.status, 200, listed.text);
  const expected = [
    { client_id: notes.id, client_name: 'Notes', scopes: ['notes', 'profile'] },
    { client_id: calendar.id, client_name: 'Calendar', scopes: ['calendar'] },
  ].sort((a, b) => (a.client_id < b.client_id ? -1 : 1));
  t.match(listed.body, { items: expected, next_cursor: null }, 'each approved client, with its name and scopes, in client_id order');
  for (const item of listed.body.items) {
    t.same(Object.keys(item).sort(), ['client_id', 'client_name', 'created_at', 'scopes', 'updated_at'], 'the fields of an approval');
    t.ok(!Number.isNaN(Date.parse(item.created_at)) && !Number.isNaN(Date.parse(item.updated_at)), 'RFC 3339 times');
  }
  t.same(
    await listedIds(t, call, alice.id, 1),
    expected.map((c) => c.client_id),
    'paged one by one, by id: each once',
  );
  isProblem(t, await call('GET', '/users/alice/consents?cursor=nonsense'), 400, 'a cursor this server did not give');
  isProblem(t, await call('GET', '/users/alice/consents?limit=501'), 400, 'a page too long');
  isProblem(t, await call('GET', '/users/alice/consents?colour=red'), 400, 'an unknown parameter');
  isProblem(t, await call('GET', '/users/nobody/consents'), 404, 'an unknown user', /nobody/);
  t.same((await call('GET', '/users/bob/consents')).body.items.length, 1, "bob's own");

  const before = (await tessera.store.revocations.bounds())?.newest ?? 0;
  const withdrawn = await call('DELETE', `/users/alice/consents/${notes.id}`);
  t.equal(withdrawn.status, 204, withdrawn.text);
  t.equal(withdrawn.text, '', 'no body');
  t.same(
    (await call('GET', '/users/alice/consents')).body.items.map((c: { client_id: string }) => c.client_id),
    [calendar.id],
    'the approval is gone',
  );
  t.notOk(await tessera.consents.covers(alice.id, notes.id, ['notes']), 'the user is asked again');

  // Every grant alice had with Notes ended: refresh tokens and the access tokens issued from them.
  for (const [what, tokens] of [
    ['the first sign-in', aliceNotes],
    ['the second sign-in', aliceNotesAgain],
  ] as const) {
    t.match(await refresh(app, notes, tokens.refresh_token), { status: 400, error: 'invalid_grant' }, `${what}: its refresh token fails`);
    t.same(await tokenState(app, introspector, tokens.access_token), INACTIVE, `${what}: its access token ended`);
  }
  // Her grant with another client, and another user's grant with Notes, go on.
  t.same(await tokenState(app, introspector, aliceCalendar.access_token), ACTIVE, 'alice’s Calendar token lives');
  t.equal((await refresh(app, calendar, aliceCalendar.refresh_token)).status, 200, 'and refreshes');
  t.same(await tokenState(app, introspector, bobNotes.access_token), ACTIVE, 'bob’s Notes token lives');
  t.equal((await refresh(app, notes, bobNotes.refresh_token)).status, 200, 'and refreshes');
  t.same(await tessera.consents.list(bob.id).then((list) => list.length), 1, 'bob’s approval stays');

  // Announced on the revocation stream like any ended grant: one sid event per grant.
  const events = await tessera.store.revocations.after(before, 100);
  const grants = [aliceNotes, aliceNotesAgain].map(
    (tokens) => JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()).sid as string,
  );
  t.same(events.map((e) => e.sid).sort(), [...grants].sort(), 'a sid event for each of her grants with Notes, nothing more');

  const [entry] = (await tessera.audit.page(1)).items;
  t.match(entry, { actor: adminClient.id, action: 'user.consent.revoke', target: alice.id, details: { client_id: notes.id } }, 'audited');

  isProblem(t, await call('DELETE', `/users/alice/consents/${notes.id}`), 404, 'withdrawn already', /has not approved/);
  isProblem(t, await call('DELETE', '/users/alice/consents/no-such-client'), 404, 'an unknown client', /no client "no-such-client"/);
  isProblem(t, await call('DELETE', `/users/nobody/consents/${notes.id}`), 404, 'an unknown user', /nobody/);
  t.equal((await tessera.audit.page(1)).items[0]!.id, entry!.id, 'a refusal is not audited');

  const doc = (await call('GET', '/admin/openapi.json')).body;
  t.ok(doc.paths['/admin/v1/users/{user}/consents']?.get, 'the list is in the admin OpenAPI document');
  t.ok(doc.paths['/admin/v1/users/{user}/consents/{client_id}']?.delete, 'and the withdrawal');
});

interface Failure {
  error: string;
  message: string;
}

t.test('tessera user consents and the client settings of consent, direct and remote', async (t) => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const server = await startTessera(t, { env: { TESSERA_ISSUER: issuer } });
  await server.app.listen({ port, host: '127.0.0.1' });
  await server.admin.listen({ port: 0, host: '127.0.0.1' });
  const adminUrl = `http://127.0.0.1:${(server.admin.server.address() as AddressInfo).port}`;
  const core = server.tessera;
  const ops = await registerClient(core, { name: 'ops', admin: true });
  const directEnv = { ...cliEnv(server.db, server.config.secret!), TESSERA_ISSUER: issuer };
  const remoteEnv = {
    DATABASE_URL: `file:${join(server.db.dataDir, 'not-here', 'nothing.db')}`,
    TESSERA_DATA_DIR: join(server.db.dataDir, 'not-here'),
    TESSERA_ADMIN_CLIENT_ID: ops.id,
    TESSERA_ADMIN_CLIENT_SECRET: ops.secret!,
  };

  for (const mode of ['direct', 'remote'] as const) {
    await t.test(mode, async (t) => {
      const run = (args: string[]) =>
        cli(mode === 'direct' ? directEnv : remoteEnv, mode === 'remote' ? ['--url', adminUrl, ...args] : args);
      const json = async (args: string[]) => {
        const result = await run(['--json', ...args]);
        if (result.code !== 0) throw new Error(`${args.join(' ')}: exit ${result.code}: ${result.stdout}${result.stderr}`);
        return JSON.parse(result.stdout);
      };
      const failsAsJson = async (args: string[], error: string, message: RegExp) => {
        const result: Run = await run(['--json', ...args]);
        t.equal(result.code, 1, `${args.join(' ')}: exit 1`);
        t.match(JSON.parse(result.stdout) as Failure, { error, message }, `${args.join(' ')}: ${result.stdout.trim()}`);
      };
      const actor = mode === 'direct' ? `cli:${userInfo().username}` : ops.id;

      // A client's consent and post-logout redirect URIs: set, shown, changed, cleared.
      const created = await json([
        'client',
        'create',
        '--name',
        `${mode} notes`,
        '--public',
        '--redirect-uri',
        'https://notes.example/cb',
        '--post-logout-redirect-uri',
        'https://notes.example/bye',
        '--post-logout-redirect-uri',
        'http://127.0.0.1:8080/bye',
        '--consent',
        '--scope',
        'openid',
        '--scope',
        'notes',
      ]);
      t.match(created, { consent: true, post_logout_redirect_uris: ['https://notes.example/bye', 'http://127.0.0.1:8080/bye'] });
      const id = created.client_id as string;
      const shown = await run(['client', 'show', id]);
      t.equal(shown.code, 0, shown.stderr);
      t.match(shown.stdout, /^consent: +true$/m, 'client show: consent');
      t.match(shown.stdout, /^post_logout_redirect_uris: +https:\/\/notes\.example\/bye http:\/\/127\.0\.0\.1:8080\/bye$/m, 'and the URIs');
      t.match(await json(['client', 'show', id]), { consent: true, post_logout_redirect_uris: created.post_logout_redirect_uris });

      const renamed = await json(['client', 'update', id, '--name', `${mode} notes 2`]);
      t.match(renamed, { consent: true, post_logout_redirect_uris: created.post_logout_redirect_uris }, 'another change keeps both');
      const changed = await json(['client', 'update', id, '--no-consent', '--post-logout-redirect-uri', 'https://notes.example/again']);
      t.match(changed, { consent: false, post_logout_redirect_uris: ['https://notes.example/again'] }, 'the list given replaces the list');
      t.match(await core.clients.get(id), { consent: false, postLogoutRedirectUris: ['https://notes.example/again'] }, 'in the database');
      const cleared = await json(['client', 'update', id, '--consent', '--no-post-logout-redirect-uris']);
      t.match(cleared, { consent: true, post_logout_redirect_uris: [] }, 'cleared, and third-party again');

      // Each refused both ways: at creation and in an update.
      const refused: [string, RegExp][] = [
        ['http://notes.example/bye', /post-logout redirect URI must use https \(or http on loopback\)/],
        ['https://notes.example/bye#top', /post-logout redirect URI must not have a fragment/],
        ['/bye', /post-logout redirect URI is not an absolute URI/],
        ['myapp:/bye', /post-logout redirect URI must use https/],
      ];
      for (const [i, [uri, why]] of refused.entries()) {
        const command = i % 2 === 0 ? ['client', 'update', id] : ['client', 'create', '--name', 'bad'];
        failsClearly(t, await run([...command, '--post-logout-redirect-uri', uri]), why);
      }
      failsClearly(
        t,
        await run(['client', 'update', id, '--post-logout-redirect-uri', 'https://a.example/', '--no-post-logout-redirect-uris']),
        /not both/,
      );
      t.same((await core.clients.get(id)).postLogoutRedirectUris, [], 'nothing refused was written');

      // The approvals a user gave, and withdrawing one.
      const username = `${mode}-carol`;
      const { user, password } = await registerUser(core, username);
      const calendar = await registerClient(core, { name: `${mode} calendar`, consent: true, grants: ['password'], scopes: ['cal'] });
      const notes = await registerClient(core, { name: `${mode} notes app`, consent: true, grants: ['password'], scopes: ['notes'] });
      const none = await run(['user', 'consents', username]);
      t.equal(none.code, 0, none.stderr);
      t.equal(none.stdout, `${username} has approved no client\n`, 'none yet');

      const signedIn = await passwordGrant(server.app, notes, username, password);
      const calendarGrant = await passwordGrant(server.app, calendar, username, password);
      await core.consents.approve(user.id, notes.id, ['notes']);
      await core.consents.approve(user.id, calendar.id, ['cal']);
      const listed = await json(['user', 'consents', username]);
      t.same(Object.keys(listed), ['consents'], 'one member: consents');
      t.match(
        listed.consents,
        [
          { client_id: notes.id, client_name: `${mode} notes app`, scopes: ['notes'] },
          { client_id: calendar.id, client_name: `${mode} calendar`, scopes: ['cal'] },
        ].sort((a, b) => (a.client_id < b.client_id ? -1 : 1)),
      );
      t.match(listed.consents[0], { created_at: String, updated_at: String });
      const human = await run(['user', 'consents', user.id]);
      t.equal(human.code, 0, human.stderr);
      const lines = human.stdout.trim().split('\n');
      t.match(lines[0], /^CLIENT_ID +NAME +SCOPES +APPROVED$/, 'a header');
      t.equal(lines.length, 3, 'then one line per client');
      t.ok(
        lines.some((line) => line.startsWith(notes.id) && line.includes(`${mode} notes app`) && / notes +\d{4}-\d\d-\d\dT/.test(line)),
        'with its name, scopes and when',
      );

      const revoked = await json(['user', 'consents', username, '--revoke', notes.id]);
      t.same(revoked, { revoked: true, user: username, client_id: notes.id });
      t.match(await refresh(server.app, notes, signedIn.refresh_token), { status: 400, error: 'invalid_grant' }, 'the grant with it ended');
      t.equal((await refresh(server.app, calendar, calendarGrant.refresh_token)).status, 200, 'the other client’s grant did not');
      t.same(
        (await json(['user', 'consents', username])).consents.map((c: { client_id: string }) => c.client_id),
        [calendar.id],
        'one approval left',
      );
      const [entry] = (await core.audit.page(1)).items;
      t.match(entry, { actor, action: 'user.consent.revoke', target: user.id, details: { client_id: notes.id } }, 'audited');
      const humanRevoke = await run(['user', 'consents', username, '--revoke', calendar.id]);
      t.equal(humanRevoke.code, 0, humanRevoke.stderr);
      t.match(humanRevoke.stdout, new RegExp(`approval of client ${calendar.id}`), 'says what it did');

      failsClearly(t, await run(['user', 'consents', username, '--revoke', notes.id]), /has not approved client/);
      await failsAsJson(['user', 'consents', username, '--revoke', notes.id], 'not_found', /has not approved client/);
      failsClearly(t, await run(['user', 'consents', username, '--revoke', 'no-such-client']), /no client "no-such-client"/);
      failsClearly(t, await run(['user', 'consents', 'nobody']), /nobody/);
      await failsAsJson(['user', 'consents', 'nobody', '--revoke', notes.id], 'not_found', /nobody/);
      t.equal((await core.audit.page(1)).items[0]!.action, 'user.consent.revoke', 'refusals are not audited');
    });
  }
});
