// Rotation and revocation of one refresh family, at the same time: a rotation locks its refresh
// token and then its grant, so a revocation must take them in the same order (or PostgreSQL may
// abort one of the two as a deadlock). Nothing may answer 500, and a revoked family must end whole:
// no refresh or access token of it left unrevoked, not even a successor a racing rotation stored.
import t from 'tap';
import pg from 'pg';
import { dialectFor } from '../src/store/dialects/index.ts';
import { pgPoolConfig } from '../src/store/dialects/postgresql.ts';
import { basic, dialect, post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';

const FAMILIES = 20;
const ROUNDS = 10;
/** Per family and round: refreshes with the same token (one wins, the others are reuse and revoke). */
const REFRESHES = 2;

/** Up to 10 ms: the requests of one family land in every order, each as often as the others. */
const jitter = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 10));

t.test('concurrent rotations and revocations of the same families', async (t) => {
  const { app, tessera, db } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const client = await registerClient(tessera, { grants: ['password'], scopes: ['read'] });
  const auth = { headers: { authorization: basic(client.id, client.secret!) } };
  // A plain view of the same database, to read every row the families left.
  const view = await dialectFor(db.url).open(db.url, (error) => t.error(error));
  t.teardown(() => view.close());

  const grantIds: string[] = [];
  const statuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
  const survivors: { refresh: string; access: string }[] = [];

  for (let round = 0; round < ROUNDS; round++) {
    const families = await Promise.all(
      Array.from({ length: FAMILIES }, async () => (await tokenRequest(app, client, { grant_type: 'password', username, password })).body_),
    );
    for (const family of families) grantIds.push((await tessera.tokens.findRefreshToken(family.refresh_token as string))!.grantId);
    // Every family at once: its token refreshed several times and revoked, all in flight together.
    const requests = families.flatMap((family) => [
      ...Array.from({ length: REFRESHES }, async () => {
        await jitter();
        const res = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: family.refresh_token as string });
        count(res.statusCode);
        if (res.statusCode === 200) {
          const body = res.body_ as { refresh_token: string; access_token: string };
          survivors.push({ refresh: body.refresh_token, access: body.access_token });
        }
      }),
      (async () => {
        await jitter();
        count((await post(app, '/revoke', { token: family.refresh_token as string }, auth)).statusCode);
      })(),
    ]);
    await Promise.all(requests);
  }

  const requests = FAMILIES * ROUNDS * (REFRESHES + 1);
  t.equal(
    [...statuses.values()].reduce((a, b) => a + b, 0),
    requests,
    'every request answered',
  );
  t.same(
    [...statuses.keys()].filter((status) => status >= 500),
    [],
    `no 5xx (statuses: ${JSON.stringify(Object.fromEntries(statuses))})`,
  );

  const grants = await view.db.grant.findMany({ where: { id: { in: grantIds } } });
  t.equal(grants.length, grantIds.length);
  t.same(
    grants.filter((grant) => grant.revokedAt === null).map((grant) => grant.id),
    [],
    'every family revoked',
  );
  const liveRefresh = await view.db.refreshToken.count({ where: { grantId: { in: grantIds }, revokedAt: null } });
  t.equal(liveRefresh, 0, 'no refresh token of a revoked family left unrevoked');
  const liveAccess = await view.db.accessToken.count({ where: { grantId: { in: grantIds }, revokedAt: null } });
  t.equal(liveAccess, 0, 'no access token of a revoked family left unrevoked');

  // What a rotation that won the race handed out is dead too.
  for (const survivor of survivors) {
    const refreshed = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: survivor.refresh });
    t.equal(refreshed.body_.error, 'invalid_grant', "a winner's refresh token no longer refreshes");
    t.equal((await post(app, '/token/verify', { token: survivor.access })).statusCode, 401, "a winner's access token is inactive");
  }
});

t.test(
  'a revocation that loses a deadlock is run again',
  { skip: dialect === 'postgresql' ? false : 'PostgreSQL only: SQLite has one writer' },
  async (t) => {
    const { app, tessera, db } = await startTessera(t);
    const { username, password } = await registerUser(tessera);
    const client = await registerClient(tessera, { grants: ['password'], scopes: ['read'] });
    const tokens = (await tokenRequest(app, client, { grant_type: 'password', username, password })).body_ as Record<string, string>;
    const grantId = (await tessera.tokens.findRefreshToken(tokens.refresh_token!))!.grantId;
    // Another session takes the grant first and the family's tokens second: the reverse of a
    // revocation's order, so the two deadlock.
    const other = new pg.Client(pgPoolConfig(db.url));
    await other.connect();
    t.teardown(() => other.end());
    const waiting = async () =>
      (
        await other.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
      ).rows[0]!.n;
    // It looks for deadlocks late, so that the revocation's own check finds the cycle and ends it.
    await other.query("SET deadlock_timeout = '10s'");
    await other.query('BEGIN');
    await other.query('UPDATE "Grant" SET "expiresAt" = "expiresAt" WHERE "id" = $1', [grantId]);
    const revoking = tessera.revocation.revoke(tokens.refresh_token!, client.id);
    while ((await waiting()) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const otherUpdate = await other.query('UPDATE "RefreshToken" SET "expiresAt" = "expiresAt" WHERE "grantId" = $1', [grantId]).then(
      () => 'done',
      (error: { code?: string }) => error.code,
    );
    t.equal(otherUpdate, 'done', 'the revocation was the deadlock victim');
    await other.query('COMMIT');
    t.equal(await revoking, 'revoked', 'and was run again, successfully');
    const refreshed = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    t.equal(refreshed.body_.error, 'invalid_grant', 'the family is revoked');
    t.equal((await post(app, '/token/verify', { token: tokens.access_token! })).statusCode, 401, 'its access token too');
  },
);
