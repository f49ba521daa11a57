// /admin/v1/tokens, /keys, /registration-tokens and /audit through the admin API: revoking one
// token, a user's or a client's; issuing and pruning; rotating and revoking signing keys; initial
// access tokens; and the audit log all of it leaves. Real apps (inject), real database, on SQLite
// and PostgreSQL.
import t from 'tap';
import { decodeProtectedHeader } from 'jose';
import { post, registerClient, registerUser } from './helpers/harness.ts';
import {
  ACTIVE,
  INACTIVE,
  clientToken,
  holdsStackTrace,
  isProblem,
  nextSecond,
  passwordGrant,
  refresh,
  sleep,
  startAdmin,
  tokenState,
  type Call,
} from './helpers/admin.ts';

type AuditEntry = { id: number; at: string; actor: string; action: string; target: string; details: Record<string, unknown> };

async function newestAudit(call: Call): Promise<number> {
  return (await call('GET', '/audit?limit=1')).body.items[0]?.id ?? 0;
}

async function auditSince(call: Call, id: number): Promise<AuditEntry[]> {
  return ((await call('GET', '/audit?limit=500')).body.items as AuditEntry[]).filter((e) => e.id > id);
}

t.test('POST /tokens/revoke: one token, a user, a client', async (t) => {
  const s = await startAdmin(t);
  const { app, call, tessera, introspector, adminClient } = s;
  const { user: ivy } = await registerUser(tessera, 'ivy', 'ivy password 1234');
  await registerUser(tessera, 'jack', 'jack password 1234');
  const opaque = await registerClient(tessera, { name: 'opaque', grants: ['client_credentials', 'password'], scopes: ['read'] });
  const jwt = await registerClient(tessera, {
    name: 'jwt',
    grants: ['client_credentials', 'password'],
    scopes: ['read'],
    tokenFormat: 'jwt',
  });
  const state = (token: string) => tokenState(app, introspector, token);
  const revoke = (body: unknown) => call('POST', '/tokens/revoke', body);
  const start = await newestAudit(call);
  const tokens: string[] = [];
  const keep = <T extends string>(token: T): T => (tokens.push(token), token);

  // One token: an opaque access token, a JWT, a refresh token.
  const ivyOpaque = await passwordGrant(app, opaque, 'ivy', 'ivy password 1234');
  const ivyJwt = await passwordGrant(app, jwt, 'ivy', 'ivy password 1234');
  keep(ivyOpaque.access_token);
  keep(ivyJwt.access_token);
  keep(ivyJwt.refresh_token);
  t.same(await state(ivyOpaque.access_token), ACTIVE);
  const one = await revoke({ token: ivyOpaque.access_token });
  t.equal(one.status, 200);
  t.same(one.body, { revoked: 'token', found: true });
  t.same(await state(ivyOpaque.access_token), INACTIVE, 'the opaque access token is inactive');
  t.equal((await refresh(app, opaque, ivyOpaque.refresh_token)).status, 200, 'its refresh token was not touched');

  t.same(await state(ivyJwt.access_token), ACTIVE);
  t.same((await revoke({ token: ivyJwt.access_token })).body, { revoked: 'token', found: true }, 'a JWT');
  t.same(await state(ivyJwt.access_token), INACTIVE, 'the JWT is inactive');
  const familyAccess = (await refresh(app, jwt, ivyJwt.refresh_token)).body as { access_token: string; refresh_token: string };
  keep(familyAccess.access_token);
  t.same(await state(familyAccess.access_token), ACTIVE, 'the family goes on after an access token is revoked');
  t.same((await revoke({ token: familyAccess.refresh_token })).body, { revoked: 'token', found: true }, 'a refresh token');
  t.equal((await refresh(app, jwt, familyAccess.refresh_token)).error, 'invalid_grant', 'the refresh token is refused');
  t.same(await state(familyAccess.access_token), INACTIVE, 'and the access token of its family ended');

  for (const unknown of [`tsa_${'B'.repeat(43)}`, `tsr_${'C'.repeat(43)}`, 'not a token at all', 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA']) {
    const response = await revoke({ token: unknown });
    t.equal(response.status, 200, `an unknown token: 200`);
    t.same(response.body, { revoked: 'token', found: false }, 'found: false');
  }

  // Everything a user holds, named by id or by username.
  const a = await passwordGrant(app, opaque, 'ivy', 'ivy password 1234');
  const b = await passwordGrant(app, jwt, 'ivy', 'ivy password 1234');
  const jack = await passwordGrant(app, opaque, 'jack', 'jack password 1234');
  const service = keep(await clientToken(app, opaque));
  for (const token of [a.access_token, b.access_token, jack.access_token, service]) t.same(await state(token), ACTIVE);
  const byId = await revoke({ user: ivy.id });
  t.equal(byId.status, 200);
  t.same(byId.body, { revoked: 'user', found: true, user: ivy.id });
  t.same(await state(a.access_token), INACTIVE, "the user's opaque token ended");
  t.same(await state(b.access_token), INACTIVE, "the user's JWT ended");
  t.equal((await refresh(app, opaque, a.refresh_token)).error, 'invalid_grant', "the user's refresh token ended");
  t.same(await state(jack.access_token), ACTIVE, "another user's token goes on");
  t.same(await state(service), ACTIVE, "the client's own token goes on");
  const jackId = (await call('GET', '/users/jack')).body.id as string;
  const byName = await revoke({ user: 'jack' });
  t.same(byName.body, { revoked: 'user', found: true, user: jackId }, 'the answer names the user by id');
  t.same(await state(jack.access_token), INACTIVE, 'by username');
  isProblem(t, await revoke({ user: 'nobody' }), 404, 'an unknown user', /no user/);
  await nextSecond();
  t.same(await state((await passwordGrant(app, opaque, 'ivy', 'ivy password 1234')).access_token), ACTIVE, 'the user can sign in again');

  // Everything issued to a client; the client goes on.
  const c1 = await clientToken(app, jwt);
  const c2 = await passwordGrant(app, jwt, 'ivy', 'ivy password 1234');
  const other = await clientToken(app, opaque);
  const byClient = await revoke({ client_id: jwt.id });
  t.same(byClient.body, { revoked: 'client', found: true, client_id: jwt.id });
  t.same(await state(c1), INACTIVE, "the client's own JWT ended");
  t.same(await state(c2.access_token), INACTIVE, "its user's JWT ended");
  t.equal((await refresh(app, jwt, c2.refresh_token)).error, 'invalid_grant', "its user's refresh token ended");
  t.same(await state(other), ACTIVE, "another client's token goes on");
  t.type((await call('GET', `/clients/${jwt.id}`)).body.tokens_valid_after, 'string');
  await nextSecond();
  t.same(await state(await clientToken(app, jwt)), ACTIVE, 'the client gets working tokens again');
  t.same(await state((await passwordGrant(app, jwt, 'ivy', 'ivy password 1234')).access_token), ACTIVE, 'for its users too');
  isProblem(t, await revoke({ client_id: 'no-such-client' }), 404, 'an unknown client', /no client/);

  const audited = await newestAudit(call);
  for (const [what, body] of [
    ['no key', {}],
    ['two keys', { token: service, user: 'ivy' }],
    ['all three', { token: service, user: 'ivy', client_id: opaque.id }],
    ['user and client', { user: 'ivy', client_id: opaque.id }],
    ['an unknown key', { jti: 'abc' }],
    ['an empty token', { token: '' }],
    ['a token that is not a string', { token: 12 }],
    ['a null user', { user: null }],
    ['an array', [{ token: service }]],
    ['an over-long token', { token: 'x'.repeat(8193) }],
  ] as const) {
    isProblem(t, await revoke(body), 400, what);
  }
  t.same(await state(service), ACTIVE, 'no refused request revoked anything');
  t.equal(await newestAudit(call), audited, 'nor wrote to the audit log');

  const entries = await auditSince(call, start);
  t.same(
    entries.map((e) => [e.action, e.target]).reverse(),
    [
      ['token.revoke', 'token'],
      ['token.revoke', 'token'],
      ['token.revoke', 'token'],
      ['token.revoke_user', ivy.id],
      ['token.revoke_user', jackId],
      ['token.revoke_client', jwt.id],
    ],
    'each revocation that found something, oldest last',
  );
  t.ok(
    entries.every((e) => e.actor === adminClient.id),
    'by the admin client',
  );
  const log = JSON.stringify(entries);
  t.equal(tokens.filter((token) => log.includes(token)).length, 0, 'no token value in the audit log');

  // RevokeResult.found is documented as "false when no active token matched (nothing changed)".
  const last = await newestAudit(call);
  t.same((await revoke({ token: ivyOpaque.access_token })).body, { revoked: 'token', found: false }, 'revoking it again finds nothing');
  t.equal(await newestAudit(call), last, 'and writes nothing to the audit log');
});

t.test('POST /tokens issues for a user; POST /tokens/prune prunes', async (t) => {
  const s = await startAdmin(t);
  const { app, call, tessera, introspector } = s;
  const { user: kim } = await registerUser(tessera, 'kim', 'kim password 1234');
  const opaque = await registerClient(tessera, { name: 'opaque', grants: ['password'], scopes: ['read', 'write'] });
  const jwt = await registerClient(tessera, { name: 'jwt', grants: ['password'], scopes: ['read'], tokenFormat: 'jwt', accessTtl: 600 });
  const start = await newestAudit(call);

  const issued = await call('POST', '/tokens', { user: 'kim', client_id: opaque.id });
  t.equal(issued.status, 201);
  t.match(issued.body, { token_type: 'Bearer', scope: 'read write', client_id: opaque.id, username: 'kim' });
  t.ok(issued.body.expires_in > 290 && issued.body.expires_in <= 300, `the client's lifetime (${issued.body.expires_in})`);
  t.match(issued.body.access_token, /^tsa_/);
  const verified = await post(app, '/token/verify', { token: issued.body.access_token });
  t.equal(verified.statusCode, 200, 'it verifies');
  t.equal(verified.body_.sub, kim.id, "its sub is the user's id");
  t.equal(verified.body_.client_id, opaque.id);

  const narrow = await call('POST', '/tokens', { user: kim.id, client_id: opaque.id, scopes: ['read'], ttl: 60 });
  t.equal(narrow.status, 201, 'by user id, with scopes and a ttl');
  t.equal(narrow.body.scope, 'read');
  t.ok(narrow.body.expires_in > 55 && narrow.body.expires_in <= 60);
  const asJwt = await call('POST', '/tokens', { user: 'kim', client_id: jwt.id, ttl: 600 });
  t.equal(asJwt.status, 201);
  t.equal(asJwt.body.access_token.split('.').length, 3, 'a JWT for a JWT client');
  t.same(await tokenState(app, introspector, asJwt.body.access_token), ACTIVE);

  const audited = await newestAudit(call);
  const refused: [string, unknown, number, RegExp?][] = [
    ['a scope the client may not have', { user: 'kim', client_id: opaque.id, scopes: ['admin'] }, 400, /may not ask for/],
    ['tessera:admin', { user: 'kim', client_id: opaque.id, scopes: ['tessera:admin'] }, 400],
    ['a JWT longer than the client allows', { user: 'kim', client_id: jwt.id, ttl: 601 }, 400, /at most its access token lifetime/],
    ['a zero ttl', { user: 'kim', client_id: opaque.id, ttl: 0 }, 400],
    ['a ttl as a string', { user: 'kim', client_id: opaque.id, ttl: '60' }, 400],
    ['an unknown field', { user: 'kim', client_id: opaque.id, audience: 'x' }, 400],
    ['no client', { user: 'kim' }, 400],
    ['an unknown user', { user: 'nobody', client_id: opaque.id }, 404, /no user/],
    ['an unknown client', { user: 'kim', client_id: 'no-such-client' }, 404, /no client/],
  ];
  for (const [what, body, status, detail] of refused) isProblem(t, await call('POST', '/tokens', body), status, what, detail);
  t.equal(await newestAudit(call), audited, 'no refused request wrote to the audit log');

  // Prune: an admin-issued token of one second expires, and goes.
  const short = await call('POST', '/tokens', { user: 'kim', client_id: opaque.id, ttl: 1 });
  t.equal(short.body.expires_in <= 1, true);
  await sleep(1500);
  t.same(await tokenState(app, introspector, short.body.access_token), INACTIVE, 'the one-second token expired');
  const pruned = await call('POST', '/tokens/prune');
  t.equal(pruned.status, 200);
  t.ok(
    Object.values(pruned.body).every((n) => Number.isInteger(n) && (n as number) >= 0),
    'counts',
  );
  t.ok(pruned.body.access_tokens >= 1, `the expired access token was removed (${pruned.body.access_tokens})`);
  t.equal((await call('POST', '/tokens/prune')).body.access_tokens, 0, 'a second prune finds nothing more');
  t.same(await tokenState(app, introspector, issued.body.access_token), ACTIVE, 'a live token is kept');

  const entries = await auditSince(call, start);
  const creates = entries.filter((e) => e.action === 'token.create');
  t.equal(creates.length, 4, 'each issued token is audited');
  t.ok(
    creates.every((e) => e.target === kim.id),
    "with the user's id as target",
  );
  t.match(creates.at(-1)!.details, { client_id: opaque.id, scope: 'read write', ttl: null });
  t.match(
    entries.filter((e) => e.action === 'token.prune').map((e) => e.target),
    ['database', 'database'],
  );
  const log = JSON.stringify(entries);
  t.notOk(
    [issued, narrow, asJwt, short].some((r) => log.includes(r.body.access_token)),
    'no issued token in the audit log',
  );
});

t.test('keys: list, rotate, revoke', async (t) => {
  const s = await startAdmin(t);
  const { app, call, tessera, introspector } = s;
  const jwt = await registerClient(tessera, { name: 'jwt', tokenFormat: 'jwt' });
  const start = await newestAudit(call);
  const jwks = async () =>
    ((await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys as { kid: string }[]).map((k) => k.kid);

  const listed = await call('GET', '/keys');
  t.equal(listed.status, 200);
  t.equal(listed.body.items.length, 1, 'one key at first');
  const k1 = listed.body.items[0].kid as string;
  t.match(listed.body.items[0], { alg: 'ES256', status: 'signing', published_until: null });
  t.notOk(/"d"|private/i.test(listed.text), 'no private key material');
  const t1 = await clientToken(app, jwt);
  t.equal(decodeProtectedHeader(t1).kid, k1);

  const rotated = await call('POST', '/keys/rotate');
  t.equal(rotated.status, 200);
  const k2 = rotated.body.kid as string;
  t.not(k2, k1, 'a new key');
  t.match(rotated.body, { status: 'signing', alg: 'ES256' });
  const afterRotation = (await call('GET', '/keys')).body.items as { kid: string; status: string; published_until: string | null }[];
  t.same(
    afterRotation.map((k) => [k.kid, k.status]).sort(),
    [
      [k1, 'retired'],
      [k2, 'signing'],
    ].sort(),
    'the old key is retired',
  );
  t.ok(Date.parse(afterRotation.find((k) => k.kid === k1)!.published_until!) > Date.now(), 'and still published');
  t.same((await jwks()).sort(), [k1, k2].sort(), 'both keys are in the JWKS');
  const t2 = await clientToken(app, jwt);
  t.equal(decodeProtectedHeader(t2).kid, k2, 'the new key signs');
  t.same(await tokenState(app, introspector, t1), ACTIVE, 'a token the old key signed still verifies');

  const revoked = await call('POST', `/keys/${k1}/revoke`);
  t.equal(revoked.status, 200);
  t.same(revoked.body, { kid: k1, revoked: true });
  t.same(await jwks(), [k2], 'the revoked key left the JWKS');
  t.same(await tokenState(app, introspector, t1), INACTIVE, 'a JWT it signed stops verifying');
  t.same(await tokenState(app, introspector, t2), ACTIVE, 'one the other key signed goes on');
  t.notOk(
    ((await call('GET', '/keys')).body.items as { kid: string }[]).some((k) => k.kid === k1),
    'the revoked key is no longer listed',
  );
  isProblem(t, await call('POST', `/keys/${k1}/revoke`), 404, 'revoking it again');
  isProblem(t, await call('POST', '/keys/no-such-kid/revoke'), 404, 'an unknown kid', /no published key/);

  // Revoking the signing key: a new one signs at once.
  t.equal((await call('POST', `/keys/${k2}/revoke`)).status, 200);
  t.same(await tokenState(app, introspector, t2), INACTIVE);
  const now = (await call('GET', '/keys')).body.items as { kid: string; status: string }[];
  t.equal(now.length, 1);
  t.equal(now[0]!.status, 'signing');
  t.not(now[0]!.kid, k2);
  const t3 = await clientToken(app, jwt);
  t.equal(decodeProtectedHeader(t3).kid, now[0]!.kid, 'the replacement signs');
  t.same(await tokenState(app, introspector, t3), ACTIVE);

  const entries = await auditSince(call, start);
  t.same(
    entries.map((e) => [e.action, e.target]).reverse(),
    [
      ['key.rotate', k2],
      ['key.revoke', k1],
      ['key.revoke', k2],
    ],
    'rotate and revokes audited with their kid',
  );
});

t.test('registration tokens', async (t) => {
  const s = await startAdmin(t);
  const { call, tessera } = s;
  const start = await newestAudit(call);
  const before = Date.now();
  const plain = await call('POST', '/registration-tokens', {});
  t.equal(plain.status, 201);
  t.match(plain.body.initial_access_token, /^tsi_[A-Za-z0-9_-]{43,}$/);
  t.equal(plain.body.max_uses, null);
  t.ok(Math.abs(Date.parse(plain.body.expires_at) - (before + 86_400_000)) < 10_000, 'a day by default');
  t.ok(await tessera.registrationTokens.useInitial(plain.body.initial_access_token), 'the token is real');

  const once = await call('POST', '/registration-tokens', { ttl: 60, max_uses: 1 });
  t.equal(once.status, 201);
  t.equal(once.body.max_uses, 1);
  t.ok(Math.abs(Date.parse(once.body.expires_at) - (Date.now() + 60_000)) < 10_000, 'a minute');
  t.ok(await tessera.registrationTokens.useInitial(once.body.initial_access_token), 'usable once');
  t.notOk(await tessera.registrationTokens.useInitial(once.body.initial_access_token), 'not twice');
  const longest = await call('POST', '/registration-tokens', { ttl: 366 * 86_400, max_uses: 1_000_000 });
  t.equal(longest.status, 201, 'the longest ttl and most uses are allowed');
  const unlimited = await call('POST', '/registration-tokens', { max_uses: null });
  t.equal(unlimited.status, 201);
  t.equal(unlimited.body.max_uses, null);
  const noBody = await call('POST', '/registration-tokens');
  t.equal(noBody.status, 201, 'no body takes the defaults');

  const audited = await newestAudit(call);
  for (const [what, body] of [
    ['ttl 0', { ttl: 0 }],
    ['a negative ttl', { ttl: -60 }],
    ['ttl over a year and a day', { ttl: 366 * 86_400 + 1 }],
    ['a fractional ttl', { ttl: 1.5 }],
    ['ttl as a string', { ttl: '60' }],
    ['max_uses 0', { max_uses: 0 }],
    ['max_uses over a million', { max_uses: 1_000_001 }],
    ['max_uses as a string', { max_uses: '5' }],
    ['an unknown field', { uses: 5 }],
  ] as const) {
    isProblem(t, await call('POST', '/registration-tokens', body), 400, what);
  }
  t.equal(await newestAudit(call), audited, 'no refused request wrote to the audit log');

  const entries = await auditSince(call, start);
  t.equal(entries.filter((e) => e.action === 'registration_token.create').length, 5, 'each creation is audited');
  t.match(entries.find((e) => e.details.max_uses === 1)!.details, { ttl: 60, max_uses: 1 });
  const log = JSON.stringify(entries);
  const issued = [plain, once, longest, unlimited, noBody].map((r) => r.body.initial_access_token as string);
  t.equal(issued.filter((token) => log.includes(token)).length, 0, 'no initial access token in the audit log');
  t.equal(issued.filter((token) => log.includes(token.slice(4, 20))).length, 0, 'not even a piece of one');
});

t.test('the audit log: newest first, paged, by the admin client, without secrets', async (t) => {
  const s = await startAdmin(t);
  const { app, call, adminClient } = s;
  const secrets: string[] = [adminClient.secret!, s.token];
  // A little of everything.
  const client = await call('POST', '/clients', { name: 'audited', grants: ['client_credentials', 'password'] });
  secrets.push(client.body.client_secret);
  const rotated = await call('POST', `/clients/${client.body.client_id}/secret`, { grace_seconds: 30 });
  secrets.push(rotated.body.client_secret);
  const user = await call('POST', '/users', { username: 'lena', password: 'lena password 1234' });
  secrets.push('lena password 1234');
  await call('PATCH', '/users/lena', { password: 'lena password 5678', roles: ['r'] });
  secrets.push('lena password 5678');
  const issued = await call('POST', '/tokens', { user: 'lena', client_id: client.body.client_id });
  secrets.push(issued.body.access_token);
  const signIn = await passwordGrant(app, { id: client.body.client_id, secret: rotated.body.client_secret }, 'lena', 'lena password 5678');
  secrets.push(signIn.access_token, signIn.refresh_token);
  await call('POST', '/tokens/revoke', { token: signIn.refresh_token });
  await call('POST', '/tokens/revoke', { user: 'lena' });
  await call('POST', '/tokens/revoke', { client_id: client.body.client_id });
  const kid = (await call('POST', '/keys/rotate')).body.kid as string;
  const registration = await call('POST', '/registration-tokens', { max_uses: 3 });
  secrets.push(registration.body.initial_access_token);
  await call('PATCH', `/clients/${client.body.client_id}`, { name: 'audited 2' });
  await call('DELETE', '/users/lena');
  await call('DELETE', `/clients/${client.body.client_id}`);

  const all = (await call('GET', '/audit')).body.items as AuditEntry[];
  t.same(
    all.map((e) => e.action),
    [
      'client.delete',
      'user.delete',
      'client.update',
      'registration_token.create',
      'key.rotate',
      'token.revoke_client',
      'token.revoke_user',
      'token.revoke',
      'token.create',
      'user.update',
      'user.create',
      'client.rotate_secret',
      'client.create',
    ],
    'every change, newest first',
  );
  t.ok(
    all.every((e) => e.actor === adminClient.id),
    'every actor is the admin client',
  );
  t.same(
    all.map((e) => e.target),
    [
      client.body.client_id,
      user.body.id,
      client.body.client_id,
      all[3]!.target,
      kid,
      client.body.client_id,
      user.body.id,
      'token',
      user.body.id,
      user.body.id,
      user.body.id,
      client.body.client_id,
      client.body.client_id,
    ],
    'with their targets',
  );
  const ids = all.map((e) => e.id);
  t.same(
    [...ids].sort((a, b) => b - a),
    ids,
    'ids descend',
  );
  t.ok(
    all.every((e) => !Number.isNaN(Date.parse(e.at))),
    'each has a time',
  );
  const log = JSON.stringify(all);
  t.equal(secrets.filter((secret) => log.includes(secret)).length, 0, 'no secret, password or token value in the audit log');

  // Paging: two at a time, every entry once.
  const paged: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await call('GET', `/audit?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(page.status, 200);
    paged.push(...page.body.items.map((e: AuditEntry) => e.id));
    cursor = page.body.next_cursor;
    pages++;
  } while (cursor !== null && pages < 20);
  t.equal(pages, 7, 'seven pages of two');
  t.same(paged, ids, 'every entry once, in order');
  const audited = await newestAudit(call);
  for (const query of [
    'limit=0',
    'limit=501',
    'limit=two',
    'cursor=abc',
    'cursor=0',
    'cursor=-1',
    'cursor=01',
    'cursor=99999999999999999999',
  ]) {
    isProblem(t, await call('GET', `/audit?${query}`), 400, `?${query}`);
  }
  t.equal(await newestAudit(call), audited, 'reading the log writes nothing');
  t.equal(s.seen.filter(holdsStackTrace).length, 0, 'no response held a stack trace');
});
