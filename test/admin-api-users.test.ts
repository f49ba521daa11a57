// /admin/v1/users through the admin API: creation and its rules, paging, lookup by id or username,
// profile changes, and the changes that end a user's tokens (deactivation, a new password,
// deletion). Real apps (inject), real database, on SQLite and PostgreSQL.
import t, { type Test } from 'tap';
import { registerClient, tokenRequest } from './helpers/harness.ts';
import {
  ACTIVE,
  INACTIVE,
  holdsStackTrace,
  isProblem,
  nextSecond,
  passwordGrant,
  refresh,
  startAdmin,
  tokenState,
  type AdminRunning,
  type Call,
} from './helpers/admin.ts';

type UserView = {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  email_verified: boolean;
  active: boolean;
  roles: string[];
  groups: string[];
};
type AuditEntry = { id: number; at: string; actor: string; action: string; target: string; details: Record<string, unknown> };

async function createUser(t: Test, call: Call, body: Record<string, unknown>): Promise<UserView> {
  const response = await call('POST', '/users', body);
  t.equal(response.status, 201, `created ${String(body.username)}`);
  return response.body as UserView;
}

async function newestAudit(call: Call): Promise<number> {
  return (await call('GET', '/audit?limit=1')).body.items[0]?.id ?? 0;
}

async function userCount(call: Call): Promise<number> {
  return (await call('GET', '/users?limit=500')).body.items.length;
}

/** A client for the password grant, opaque or JWT. */
async function passwordClients(s: AdminRunning) {
  const opaque = await registerClient(s.tessera, { name: 'opaque app', grants: ['password'], scopes: ['profile'] });
  const jwt = await registerClient(s.tessera, { name: 'jwt app', grants: ['password'], scopes: ['profile'], tokenFormat: 'jwt' });
  return { opaque, jwt };
}

async function signInError(s: AdminRunning, client: { id: string; secret?: string }, username: string, password: string) {
  const response = await tokenRequest(s.app, client, { grant_type: 'password', username, password });
  return response.statusCode === 200 ? null : (response.body_.error as string);
}

t.test('create: 201 with the profile; the rules are 400s that create nothing', async (t) => {
  const s = await startAdmin(t);
  const { call } = s;
  const { opaque } = await passwordClients(s);
  const alice = await createUser(t, call, {
    username: 'alice',
    password: 'alice password 1',
    email: 'alice@example.com',
    name: 'Alice Liddell',
    email_verified: true,
    roles: ['billing admin', 'viewer'],
    groups: ['staff'],
  });
  t.match(alice, {
    username: 'alice',
    email: 'alice@example.com',
    name: 'Alice Liddell',
    email_verified: true,
    active: true,
    roles: ['billing admin', 'viewer'],
    groups: ['staff'],
  });
  t.match(alice.id, /^[0-9a-f-]{36}$/, 'an id');
  t.notOk('password' in alice || 'password_hash' in alice, 'no password in the answer');
  t.ok(await passwordGrant(s.app, opaque, 'alice', 'alice password 1'), 'the password works at the password grant');
  const bare = await createUser(t, call, { username: 'bob', password: 'bob password 12' });
  t.match(bare, { email: null, name: null, email_verified: false, roles: [], groups: [] }, 'defaults');

  const before = await userCount(call);
  const audited = await newestAudit(call);
  const refused: [string, unknown, RegExp?][] = [
    ['a password of 11 characters', { username: 'carol', password: 'elevenchars' }, /at least 12/],
    ['a password over 1024 characters', { username: 'carol', password: 'x'.repeat(1025) }],
    ['an empty password', { username: 'carol', password: '' }],
    ['no password', { username: 'carol' }],
    ['no username', { password: 'long enough password' }],
    ['a duplicate username', { username: 'alice', password: 'another password' }, /already exists/],
    ['an unknown field', { username: 'carol', password: 'long enough password', admin: true }],
    ['a password hash given', { username: 'carol', password: 'long enough password', password_hash: '$argon2id$x' }],
    ['a username with a space', { username: 'carol smith', password: 'long enough password' }, /username/],
    ['a username with a control character', { username: 'carol\u0007', password: 'long enough password' }, /username/],
    ['an over-long username', { username: 'c'.repeat(129), password: 'long enough password' }],
    ['a bad email', { username: 'carol', password: 'long enough password', email: 'not-an-email' }, /email/],
    ['a role with a control character', { username: 'carol', password: 'long enough password', roles: ['ok', 'bad\u0001role'] }, /role/],
    ['a role over 100 characters', { username: 'carol', password: 'long enough password', roles: ['r'.repeat(101)] }],
    ['101 roles', { username: 'carol', password: 'long enough password', roles: Array.from({ length: 101 }, (_, i) => `role ${i}`) }],
    ['a group with a newline', { username: 'carol', password: 'long enough password', groups: ['a\nb'] }, /group/],
    ['a role with a leading space', { username: 'carol', password: 'long enough password', roles: [' padded'] }, /role/],
    ['roles as a string', { username: 'carol', password: 'long enough password', roles: 'admin' }],
    ['email_verified as a string', { username: 'carol', password: 'long enough password', email_verified: 'yes' }],
    ['a name with a control character', { username: 'carol', password: 'long enough password', name: 'Carol\u001b' }, /name/],
    ['a username that is a number', { username: 7, password: 'long enough password' }],
  ];
  for (const [what, body, detail] of refused) isProblem(t, await call('POST', '/users', body), 400, what, detail);
  t.equal(await userCount(call), before, 'no refused request created a user');
  t.equal((await call('GET', '/users/carol')).status, 404, 'carol does not exist');
  t.equal(await newestAudit(call), audited, 'and nothing was audited');
  t.equal(await signInError(s, opaque, 'alice', 'another password'), 'invalid_grant', "the duplicate did not change alice's password");
  const roles100 = await createUser(t, call, {
    username: 'many-roles',
    password: 'long enough password',
    roles: Array.from({ length: 100 }, (_, i) => `role ${i}`),
  });
  t.equal(roles100.roles.length, 100, '100 roles are allowed');
});

t.test('list with paging; get by id and by username', async (t) => {
  const s = await startAdmin(t);
  const { call } = s;
  const made: UserView[] = [];
  for (const name of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'])
    made.push(await createUser(t, call, { username: name, password: `${name} password 12` }));
  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  do {
    const response = await call('GET', `/users?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.equal(response.status, 200);
    sizes.push(response.body.items.length);
    seen.push(...response.body.items.map((u: UserView) => u.id));
    t.notOk(response.text.includes('$argon2'), 'no password hash in a list');
    cursor = response.body.next_cursor;
  } while (cursor !== null && sizes.length < 10);
  t.same(sizes, [3, 3, 1]);
  t.same(
    seen,
    made.map((u) => u.id),
    'every user once, in creation order',
  );
  for (const query of ['limit=0', 'limit=501', 'limit=abc', 'cursor=forged', `cursor=${Buffer.from('1.').toString('base64url')}`]) {
    isProblem(t, await call('GET', `/users?${query}`), 400, `?${query}`);
  }
  const byId = await call('GET', `/users/${made[2]!.id}`);
  const byName = await call('GET', '/users/u3');
  t.equal(byId.status, 200);
  t.same(byId.body, byName.body, 'the same user by id and by username');
  t.equal(byName.body.username, 'u3');
  isProblem(t, await call('GET', '/users/nobody'), 404, 'an unknown user', /no user/);
  isProblem(t, await call('GET', '/users/00000000-0000-4000-8000-000000000000'), 404, 'an unknown id');
});

t.test('PATCH the profile', async (t) => {
  const s = await startAdmin(t);
  const { call } = s;
  const dave = await createUser(t, call, { username: 'dave', password: 'dave password 12', email: 'dave@example.com' });
  const patch = async (user: string, body: Record<string, unknown>, expect: Record<string, unknown>, what: string) => {
    const response = await call('PATCH', `/users/${user}`, body);
    t.equal(response.status, 200, `${what}: 200`);
    t.match(response.body, expect, `${what}: in the answer`);
    t.match((await call('GET', `/users/${dave.id}`)).body, expect, `${what}: GET shows it`);
  };
  await patch('dave', { email: 'dave@corp.example' }, { email: 'dave@corp.example', id: dave.id }, 'email');
  await patch(dave.id, { name: 'Dave Bowman' }, { name: 'Dave Bowman' }, 'name, by id');
  await patch(
    'dave',
    { email_verified: true },
    { email_verified: true, email: 'dave@corp.example', name: 'Dave Bowman' },
    'email_verified',
  );
  await patch('dave', { roles: ['pod bay operator', 'crew'] }, { roles: ['pod bay operator', 'crew'] }, 'roles, with a space');
  await patch('dave', { groups: ['discovery one'] }, { groups: ['discovery one'], roles: ['pod bay operator', 'crew'] }, 'groups');
  await patch('dave', { roles: Array.from({ length: 100 }, (_, i) => `r${i}`) }, { email: 'dave@corp.example' }, '100 roles');
  await patch('dave', { roles: [], email: null, name: null }, { roles: [], email: null, name: null, groups: ['discovery one'] }, 'cleared');
  await patch('dave', { roles: ['crew'], email: 'dave@corp.example' }, { roles: ['crew'] }, 'back');

  const before = (await call('GET', '/users/dave')).body;
  const audited = await newestAudit(call);
  const refused: [string, unknown, RegExp?][] = [
    ['a role with a control character', { roles: ['crew\u0000'] }],
    ['a role with a tab', { roles: ['crew\tlead'] }, /role/],
    ['a role with DEL', { roles: ['crew\u007f'] }, /role/],
    ['101 roles', { roles: Array.from({ length: 101 }, (_, i) => `r${i}`) }],
    ['a role of 101 characters', { roles: ['r'.repeat(101)] }],
    ['an empty role', { roles: [''] }],
    ['a group with a control character', { groups: ['g\u0002'] }, /group/],
    ['a bad email, with a good name', { email: 'nope', name: 'Not Applied' }, /email/],
    ['a short password, with roles', { password: 'short', roles: ['not applied'] }, /at least 12/],
    ['an unknown field', { username: 'david' }],
    ['an empty change', {}],
    ['active as a string', { active: 'false' }],
    ['email_verified as a number', { email_verified: 1 }],
  ];
  for (const [what, body, detail] of refused) isProblem(t, await call('PATCH', '/users/dave', body), 400, what, detail);
  t.same((await call('GET', '/users/dave')).body, before, 'no refused change changed dave');
  t.equal(await newestAudit(call), audited, 'and none was audited');
  isProblem(t, await call('PATCH', '/users/nobody', { name: 'x' }), 404, 'PATCH of an unknown user');
});

t.test('deactivation ends the tokens for good; a new password ends them too', async (t) => {
  const s = await startAdmin(t);
  const { call, app, introspector } = s;
  const { opaque, jwt } = await passwordClients(s);
  const erin = await createUser(t, call, { username: 'erin', password: 'erin password 12' });
  const state = (token: string) => tokenState(app, introspector, token);

  const o1 = await passwordGrant(app, opaque, 'erin', 'erin password 12');
  const j1 = await passwordGrant(app, jwt, 'erin', 'erin password 12');
  const issued = await call('POST', '/tokens', { user: 'erin', client_id: opaque.id });
  t.equal(issued.status, 201);
  for (const token of [o1.access_token, j1.access_token, issued.body.access_token]) t.same(await state(token), ACTIVE, 'active at first');

  const off = await call('PATCH', `/users/${erin.id}`, { active: false });
  t.equal(off.status, 200);
  t.equal(off.body.active, false);
  for (const token of [o1.access_token, j1.access_token, issued.body.access_token])
    t.same(await state(token), INACTIVE, 'inactive user: token inactive');
  t.equal((await refresh(app, opaque, o1.refresh_token)).error, 'invalid_grant', 'an inactive user cannot refresh');
  t.equal(await signInError(s, opaque, 'erin', 'erin password 12'), 'invalid_grant', 'nor sign in');
  isProblem(
    t,
    await call('POST', '/tokens', { user: 'erin', client_id: opaque.id }),
    400,
    'no admin-issued token for an inactive user',
    /inactive/,
  );

  const on = await call('PATCH', '/users/erin', { active: true });
  t.equal(on.body.active, true);
  for (const token of [o1.access_token, j1.access_token, issued.body.access_token])
    t.same(await state(token), INACTIVE, 'activating again revives nothing');
  t.equal((await refresh(app, jwt, j1.refresh_token)).error, 'invalid_grant', 'nor the refresh tokens');
  await nextSecond();
  const o2 = await passwordGrant(app, opaque, 'erin', 'erin password 12');
  t.same(await state(o2.access_token), ACTIVE, 'a new sign-in works');
  const j2 = await passwordGrant(app, jwt, 'erin', 'erin password 12');
  t.same(await state(j2.access_token), ACTIVE);

  // A refused password change changes nothing…
  isProblem(t, await call('PATCH', '/users/erin', { password: 'too short' }), 400, 'a short password');
  t.same(await state(o2.access_token), ACTIVE, 'a refused change ends nothing');
  // …a new one ends every token, and only the new password works.
  const changed = await call('PATCH', '/users/erin', { password: 'erin new password 34' });
  t.equal(changed.status, 200);
  t.notOk(changed.text.includes('erin new password 34'), 'the answer does not echo the password');
  t.same(await state(o2.access_token), INACTIVE, 'the opaque token ended');
  t.same(await state(j2.access_token), INACTIVE, 'the JWT ended');
  t.equal((await refresh(app, opaque, o2.refresh_token)).error, 'invalid_grant', 'the refresh token ended');
  t.equal(await signInError(s, opaque, 'erin', 'erin password 12'), 'invalid_grant', 'the old password is refused');
  await nextSecond();
  const o3 = await passwordGrant(app, opaque, 'erin', 'erin new password 34');
  t.same(await state(o3.access_token), ACTIVE, 'the new password works at the password grant');
  t.equal((await refresh(app, opaque, o3.refresh_token)).status, 200, 'and its refresh token works');

  // A profile change ends nothing.
  t.equal((await call('PATCH', '/users/erin', { name: 'Erin', roles: ['x'] })).status, 200);
  const o4 = await passwordGrant(app, opaque, 'erin', 'erin new password 34');
  t.equal((await call('PATCH', '/users/erin', { email_verified: true, groups: ['g'] })).status, 200);
  t.same(await state(o4.access_token), ACTIVE, 'a profile change ends no token');
  t.equal((await call('PATCH', '/users/erin', { active: true })).status, 200, 'activating an active user is fine');
  t.same(await state(o4.access_token), ACTIVE, 'and ends nothing');
});

t.test('delete a user', async (t) => {
  const s = await startAdmin(t);
  const { call, app, introspector } = s;
  const { opaque, jwt } = await passwordClients(s);
  const frank = await createUser(t, call, { username: 'frank', password: 'frank password 1' });
  const grace = await createUser(t, call, { username: 'grace', password: 'grace password 1' });
  const o = await passwordGrant(app, opaque, 'frank', 'frank password 1');
  const j = await passwordGrant(app, jwt, 'frank', 'frank password 1');
  const g = await passwordGrant(app, opaque, 'grace', 'grace password 1');
  const deleted = await call('DELETE', '/users/frank');
  t.equal(deleted.status, 204);
  t.same(await tokenState(app, introspector, o.access_token), INACTIVE, "a deleted user's token is inactive");
  t.same(await tokenState(app, introspector, j.access_token), INACTIVE, 'and their JWT');
  t.equal((await refresh(app, opaque, o.refresh_token)).error, 'invalid_grant', 'and their refresh token');
  t.equal(await signInError(s, opaque, 'frank', 'frank password 1'), 'invalid_grant', 'they cannot sign in');
  isProblem(t, await call('GET', `/users/${frank.id}`), 404, 'GET after delete');
  isProblem(t, await call('DELETE', '/users/frank'), 404, 'DELETE again');
  t.equal((await call('DELETE', `/users/${grace.id}`)).status, 204, 'delete by id');
  t.same(await tokenState(app, introspector, g.access_token), INACTIVE);
  t.same((await call('GET', '/users')).body.items, [], 'nobody left');
});

t.test('the audit log records user changes, never a password', async (t) => {
  const s = await startAdmin(t);
  const { call, adminClient } = s;
  const start = await newestAudit(call);
  const passwords = ['hanna password 1', 'hanna password 2'];
  const hanna = await createUser(t, call, { username: 'hanna', password: passwords[0], roles: ['ops'] });
  t.equal((await call('PATCH', '/users/hanna', { password: passwords[1], email: 'hanna@example.com' })).status, 200);
  t.equal((await call('PATCH', '/users/hanna', { active: false })).status, 200);
  t.equal((await call('DELETE', `/users/${hanna.id}`)).status, 204);
  const entries = ((await call('GET', '/audit')).body.items as AuditEntry[]).filter((e) => e.id > start);
  t.same(
    entries.map((e) => [e.action, e.target, e.actor]),
    [
      ['user.delete', hanna.id, adminClient.id],
      ['user.update', hanna.id, adminClient.id],
      ['user.update', hanna.id, adminClient.id],
      ['user.create', hanna.id, adminClient.id],
    ],
    'newest first',
  );
  t.match(entries[3]!.details, { username: 'hanna', roles: ['ops'], password: true }, 'create: the password only as "set"');
  t.match(entries[2]!.details, { email: 'hanna@example.com', password: true }, 'update: the password only as "changed"');
  t.match(entries[1]!.details, { active: false });
  t.match(entries[0]!.details, { username: 'hanna' });
  const log = JSON.stringify(entries);
  t.equal(passwords.filter((p) => log.includes(p)).length, 0, 'no password in the audit log');
  t.notOk(log.includes('$argon2'), 'nor a hash');
  t.equal(s.seen.filter(holdsStackTrace).length, 0, 'no response held a stack trace');
  t.equal(s.seen.filter((text) => text.includes('$argon2')).length, 0, 'no response held a password hash');
});
