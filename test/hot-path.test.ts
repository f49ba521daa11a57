// The hot-path statements are raw SQL beside Prisma: rows they write must read back through
// Prisma exactly (same columns, same date encoding, same comparisons) and the other way round,
// rotations must be all-or-nothing per token, and one failing write must not sink its batch.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { testDatabase } from './helpers/harness.ts';
import { applyMigrations } from '../src/store/migrate.ts';
import { dialectFor } from '../src/store/dialects/index.ts';
import { Store } from '../src/store/store.ts';
import type { NewAccessToken } from '../src/records.ts';
import type { Rotation } from '../src/store/hot-path.ts';

const digest = () => randomBytes(32).toString('hex');
// Millisecond-exact dates with a non-zero millisecond: both encodings must keep it.
const at = (offsetMs: number) => new Date(Math.floor(Date.now() / 1000) * 1000 + 123 + offsetMs);

t.test('hot-path statements agree with Prisma', async (t) => {
  const db = await testDatabase(t);
  await applyMigrations(db.url);
  const store = await Store.open({ databaseUrl: db.url, changePollMs: 50, auditRetentionDays: 365 }, (e) => t.error(e));
  t.teardown(() => store.close());
  // A second, plain Prisma view of the same database, to read what the hot path wrote.
  const prisma = await dialectFor(db.url).open(db.url, (e) => t.error(e));
  t.teardown(() => prisma.close());

  await store.clients.create({
    id: 'client-1',
    name: 'c',
    secretDigest: null,
    admin: false,
    registrationTokenDigest: null,
    grants: ['password', 'refresh_token'],
    scopes: ['read'],
    redirectUris: [],
    postLogoutRedirectUris: [],
    origins: [],
    consent: false,
    maxSession: 2_592_000,
    tokenFormat: 'opaque',
    accessTtl: 300,
    refreshTtl: 3600,
    audience: null,
    canIntrospect: false,
    browser: false,
    jwks: null,
    jwksUri: null,
  });
  await store.users.create({ id: 'user-1', username: 'u', email: null, passwordHash: 'x' });
  const access = (grantId: string | null, expiresAt = at(300_000)): NewAccessToken => ({
    digest: digest(),
    clientId: 'client-1',
    userId: 'user-1',
    grantId,
    scope: 'read',
    issuedAt: at(0),
    expiresAt,
  });
  const newGrant = async (id: string) => {
    const first = digest();
    await store.tokens.startGrant(
      { id, clientId: 'client-1', userId: 'user-1', scope: 'read', expiresAt: at(3_600_000), sessionId: null, authTime: null },
      { digest: first, parentDigest: null, scope: 'read', expiresAt: at(3_600_000) },
      null,
    );
    return first;
  };
  const rotation = (used: string, grantId: string, grantExpiresAt = at(7_200_000)): Omit<Rotation, 'grantExtendedTo'> => ({
    usedDigest: used,
    grantId,
    next: { digest: digest(), scope: 'read', expiresAt: at(7_200_000) },
    access: access(grantId),
    grantExpiresAt,
  });

  t.test('a refresh token Prisma wrote reads back whole through the hot path', async (t) => {
    const first = digest();
    // One instant for writing and comparing: at() moves on when the wall clock's second does.
    const expiresAt = at(3_600_000);
    await prisma.db.grant.create({
      data: { id: 'grant-read', clientId: 'client-1', userId: 'user-1', scope: 'read', expiresAt },
    });
    await prisma.db.refreshToken.create({ data: { digest: first, grantId: 'grant-read', scope: 'read', expiresAt } });
    const viaPrisma = await prisma.db.refreshToken.findUnique({ where: { digest: first }, include: { grant: true } });
    const viaHotPath = await store.tokens.findRefreshToken(first);
    t.same(viaHotPath, viaPrisma);
    t.equal(viaHotPath?.expiresAt.getTime(), expiresAt.getTime(), 'milliseconds kept');
    t.equal(await store.tokens.findRefreshToken(digest()), null, 'unknown digest');
  });

  t.test('a grant started here reads back whole through Prisma', async (t) => {
    const refresh = { digest: digest(), parentDigest: null, scope: 'read', expiresAt: at(3_600_000) };
    const token = access('grant-start');
    // With a browser sign-in's session and time, which the ID tokens of later refreshes read back.
    const signIn = { sessionId: 'session-1', authTime: new Date(Math.floor(Date.now() / 1000) * 1000) };
    const grant = { id: 'grant-start', clientId: 'client-1', userId: 'user-1', scope: 'read', expiresAt: at(3_600_000), ...signIn };
    await store.tokens.startGrant(grant, refresh, token);
    const row = await prisma.db.refreshToken.findUniqueOrThrow({ where: { digest: refresh.digest }, include: { grant: true } });
    t.match(row, { ...refresh, grantId: 'grant-start', consumedAt: null, revokedAt: null, grant: { ...grant, revokedAt: null } });
    t.same(await prisma.db.accessToken.findUniqueOrThrow({ where: { digest: token.digest } }), { ...token, revokedAt: null });
    t.same(await store.tokens.findRefreshToken(refresh.digest), row, 'and through the hot path');
  });

  t.test('codes written here read back whole through Prisma, with and without their OpenID Connect fields', async (t) => {
    const code = (n: string, oidc: { nonce: string | null; authTime: Date | null; sessionId: string | null }) => ({
      digest: digest(),
      clientId: 'client-1',
      userId: 'user-1',
      redirectUri: `https://app.example.com/cb?n=${n}`,
      scope: 'read',
      codeChallenge: 'c'.repeat(43),
      codeChallengeMethod: 'S256',
      expiresAt: at(60_000),
      ...oidc,
    });
    const codes = [
      code('1', { nonce: 'n-1', authTime: at(-5_000), sessionId: 'session-1' }),
      code('2', { nonce: null, authTime: null, sessionId: null }),
    ];
    // Concurrent saves share one commit.
    await Promise.all(codes.map((c) => store.codes.save(c)));
    for (const c of codes) {
      t.same(await prisma.db.authorizationCode.findUniqueOrThrow({ where: { digest: c.digest } }), {
        ...c,
        consumedAt: null,
        grantId: null,
      });
    }

    // Exchanges share one commit too, and a code sent twice at once is used once.
    const [first, second] = codes as [(typeof codes)[0], (typeof codes)[0]];
    const uses = await Promise.all([
      store.codes.consume(first.digest, 'grant-a'),
      store.codes.consume(first.digest, 'grant-b'),
      store.codes.consume(second.digest, 'grant-c'),
    ]);
    t.same(uses, [true, false, true], 'of two uses of one code in a batch, the first wins');
    const used = await prisma.db.authorizationCode.findUniqueOrThrow({ where: { digest: first.digest } });
    t.equal(used.grantId, 'grant-a', 'the code names the grant of the use that won');
    t.ok(used.consumedAt, 'and is used');
    t.equal(await store.codes.consume(first.digest, 'grant-d'), false, 'a used code cannot be used again');
    t.equal(await store.codes.consume(digest(), 'grant-e'), false, 'nor an unknown one');
  });

  t.test('a rotation writes what Prisma reads back, and extends the grant', async (t) => {
    const first = await newGrant('grant-rotate');
    const r = rotation(first, 'grant-rotate');
    t.equal(await store.tokens.rotate(r), true);
    const used = await prisma.db.refreshToken.findUniqueOrThrow({ where: { digest: first } });
    t.ok(used.consumedAt, 'the used token is consumed');
    const next = await prisma.db.refreshToken.findUniqueOrThrow({ where: { digest: r.next.digest } });
    t.match(next, { grantId: 'grant-rotate', parentDigest: first, scope: 'read', consumedAt: null, revokedAt: null });
    t.equal(next.expiresAt.getTime(), r.next.expiresAt.getTime());
    const token = await prisma.db.accessToken.findUniqueOrThrow({ where: { digest: r.access!.digest } });
    t.same(token, { ...r.access, revokedAt: null });
    const grant = await prisma.db.grant.findUniqueOrThrow({ where: { id: 'grant-rotate' } });
    t.ok(grant.expiresAt.getTime() >= r.grantExpiresAt.getTime() + 3_600_000, 'grant extended, with room to spare');

    // A grant that lasts long enough is left alone: neither shortened nor rewritten.
    const again = rotation(r.next.digest, 'grant-rotate', at(60_000));
    t.equal(await store.tokens.rotate(again), true);
    const still = await prisma.db.grant.findUniqueOrThrow({ where: { id: 'grant-rotate' } });
    t.equal(still.expiresAt.getTime(), grant.expiresAt.getTime(), 'grant left alone');
  });

  t.test('a used, revoked or unknown token rotates nothing and writes nothing', async (t) => {
    const first = await newGrant('grant-lose');
    t.equal(await store.tokens.rotate(rotation(first, 'grant-lose')), true);
    const reused = rotation(first, 'grant-lose');
    t.equal(await store.tokens.rotate(reused), false, 'already used');
    t.equal(await prisma.db.refreshToken.findUnique({ where: { digest: reused.next.digest } }), null, 'no successor written');
    t.equal(await prisma.db.accessToken.findUnique({ where: { digest: reused.access!.digest } }), null, 'no access token written');

    const other = await newGrant('grant-other');
    await store.tokens.revokeGrant('grant-other');
    t.equal(await store.tokens.rotate(rotation(other, 'grant-other')), false, 'revoked');
    t.equal(await store.tokens.rotate(rotation(digest(), 'grant-other')), false, 'unknown');
  });

  t.test('concurrent rotations: one winner per token, every token in one batch', async (t) => {
    const firsts = await Promise.all(['a', 'b', 'c'].map((g) => newGrant(`grant-batch-${g}`)));
    const attempts = firsts.flatMap((first, i) => [0, 1, 2, 3].map(() => rotation(first, `grant-batch-${'abc'[i]}`)));
    const results = await Promise.all(attempts.map((a) => store.tokens.rotate(a)));
    for (let i = 0; i < 3; i++) t.equal(results.slice(i * 4, i * 4 + 4).filter(Boolean).length, 1, `token ${i}: one winner`);
    const successors = await prisma.db.refreshToken.count({ where: { parentDigest: { in: firsts } } });
    t.equal(successors, 3, 'only the winners wrote successors');
  });

  t.test('one failing write does not sink the others in its batch', async (t) => {
    const first = await newGrant('grant-ok');
    const good = rotation(first, 'grant-ok');
    const orphan = access('no-such-grant');
    const [rotated, inserted, fine] = await Promise.allSettled([
      store.tokens.rotate(good),
      store.tokens.saveAccessToken(orphan),
      store.tokens.saveAccessToken(access(null)),
    ]);
    t.same(rotated, { status: 'fulfilled', value: true });
    t.equal(inserted.status, 'rejected', 'a token of a missing grant is refused');
    t.equal(fine.status, 'fulfilled', 'its batch-mate is stored');
  });

  t.test('dates written here compare correctly in Prisma queries (pruning)', async (t) => {
    const expired = access(null, at(-60_000));
    const live = access(null);
    await store.tokens.saveAccessTokens([expired, live]);
    const counts = await store.prune(new Date());
    t.ok(counts.accessTokens >= 1);
    t.equal(await prisma.db.accessToken.findUnique({ where: { digest: expired.digest } }), null, 'expired one pruned');
    t.ok(await prisma.db.accessToken.findUnique({ where: { digest: live.digest } }), 'live one kept');
  });
});
