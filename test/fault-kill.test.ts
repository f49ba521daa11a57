// kill -9 in the middle of issuing and rotating tokens, on the suite's database (SQLite, then
// PostgreSQL), with the server as a real process over real HTTP: after a restart on the same
// database, every token a client was given must still work, and no refresh family may be left
// half-rotated.
import t from 'tap';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createLogger } from '../src/logger.ts';
import { pgPoolConfig } from '../src/store/dialects/postgresql.ts';
import { sqlitePath } from '../src/store/dialects/sqlite.ts';
import { Tessera } from '../src/tessera.ts';
import { dialect, registerClient, registerUser, testConfig, testDatabase, type TestDatabase } from './helpers/harness.ts';
import { postForm, startServer, type Answer } from './helpers/server-process.ts';

/** Families rotating side by side, each as fast as its client can. */
const ROTATING_FAMILIES = 6;
/** The kill comes after this many answers, or after KILL_AFTER_MS, whichever is first. */
const KILL_AFTER_ANSWERS = 300;
const KILL_AFTER_MS = 4000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One row of a query, on either database, through a connection of its own. */
async function queryRow(db: TestDatabase, sql: string): Promise<Record<string, unknown>> {
  if (dialect === 'sqlite') {
    const connection = new Database(sqlitePath(db.url));
    try {
      return connection.prepare<[], Record<string, unknown>>(sql).get() ?? {};
    } finally {
      connection.close();
    }
  }
  const client = new pg.Client(pgPoolConfig(db.url));
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows[0] ?? {};
  } finally {
    await client.end();
  }
}

/** Refresh tokens used up without a successor in a family that is still live: a half-done rotation. */
const HALF_ROTATED = `
  SELECT count(*) AS n FROM "RefreshToken" r JOIN "Grant" g ON g."id" = r."grantId"
   WHERE r."consumedAt" IS NOT NULL AND g."revokedAt" IS NULL
     AND NOT EXISTS (SELECT 1 FROM "RefreshToken" s WHERE s."parentDigest" = r."digest")`;

/** Runs `work` over the items, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

interface Family {
  /** The newest refresh token the client was given. */
  latest: string;
  /** The one it replaced, used up since. */
  previous?: string;
  /** A rotation of `latest` was sent and never answered: whether the server committed it is unknown. */
  unanswered: boolean;
}

t.test(`kill -9 during issuance and rotation (${dialect})`, async (t) => {
  const db = await testDatabase(t);
  const config = testConfig(db);
  const core = await Tessera.open(config, createLogger('silent'), { schema: 'apply' });
  const registered = await registerClient(core, { grants: ['client_credentials', 'password'], scopes: ['read'] });
  const { username, password } = await registerUser(core);
  await core.close();
  const client = { id: registered.id, secret: registered.secret! };
  const env = { DATABASE_URL: db.url, TESSERA_DATA_DIR: db.dataDir, TESSERA_SECRET: config.secret!, TESSERA_ISSUER: config.issuer };

  const first = await startServer(t, env);
  const accessTokens: string[] = [];
  const families: Family[] = [];
  const received = (answer: Answer) => {
    accessTokens.push(String(answer.body.access_token));
    if (typeof answer.body.refresh_token === 'string') families.push({ latest: answer.body.refresh_token, unanswered: false });
  };
  for (let i = 0; i < ROTATING_FAMILIES; i++) {
    const answer = await postForm(`${first.url}/token`, { grant_type: 'password', username, password, scope: 'read' }, client);
    t.equal(answer.status, 200, 'a family starts');
    received(answer);
  }

  let killed = false;
  const statuses: Record<string, number> = {};
  /** A token request to the first server; undefined when it died before answering. */
  const send = async (form: Record<string, string>): Promise<Answer | undefined> => {
    try {
      const answer = await postForm(`${first.url}/token`, form, client);
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      return answer;
    } catch {
      statuses['no answer'] = (statuses['no answer'] ?? 0) + 1;
      return undefined;
    }
  };
  const rotate = async (family: Family) => {
    while (!killed) {
      family.unanswered = true;
      const answer = await send({ grant_type: 'refresh_token', refresh_token: family.latest });
      if (!answer || answer.status !== 200) return;
      family.unanswered = false;
      accessTokens.push(String(answer.body.access_token));
      family.previous = family.latest;
      family.latest = String(answer.body.refresh_token);
      // Now and then a pause, so that some families are between rotations at the kill.
      await sleep(Math.random() * 20);
    }
  };
  const issue = async (form: Record<string, string>) => {
    while (!killed) {
      const answer = await send(form);
      if (!answer || answer.status !== 200) return;
      received(answer);
    }
  };
  const started = Date.now();
  const load = Promise.all([
    ...families.map(rotate),
    issue({ grant_type: 'client_credentials', scope: 'read' }),
    issue({ grant_type: 'client_credentials', scope: 'read' }),
    issue({ grant_type: 'password', username, password, scope: 'read' }),
  ]);
  const answered = () => Object.entries(statuses).reduce((sum, [status, n]) => sum + (status === 'no answer' ? 0 : n), 0);
  while (answered() < KILL_AFTER_ANSWERS && Date.now() - started < KILL_AFTER_MS) await sleep(10);
  killed = true;
  await first.stop('SIGKILL');
  await load;
  const loadMs = Date.now() - started;
  t.same(Object.keys(statuses).sort(), ['200', 'no answer'], `before the kill every answer was 200: ${JSON.stringify(statuses)}`);

  if (dialect === 'sqlite') {
    t.same(await queryRow(db, 'PRAGMA integrity_check'), { integrity_check: 'ok' }, 'PRAGMA integrity_check: ok');
  }
  t.equal(Number((await queryRow(db, HALF_ROTATED)).n), 0, 'no family is half-rotated');
  const rotations = Number((await queryRow(db, 'SELECT count(*) AS n FROM "RefreshToken" WHERE "consumedAt" IS NOT NULL')).n);

  const second = await startServer(t, env);
  let stillValid = 0;
  await eachLimited(accessTokens, 8, async (token) => {
    const answer = await postForm(`${second.url}/token/verify`, { token });
    if (answer.status === 200 && answer.body.active === true) stillValid++;
  });
  t.equal(stillValid, accessTokens.length, 'every access token answered with a 200 still verifies');

  // The newest refresh token of each family whose last rotation was answered must refresh; the
  // one before it was used up, and stays used up after the crash.
  const known = families.filter((family) => !family.unanswered);
  let refreshed = 0;
  let refusedOld = 0;
  await eachLimited(known, 4, async (family) => {
    const answer = await postForm(`${second.url}/token`, { grant_type: 'refresh_token', refresh_token: family.latest }, client);
    if (answer.status === 200) refreshed++;
    if (family.previous === undefined) return;
    const old = await postForm(`${second.url}/token`, { grant_type: 'refresh_token', refresh_token: family.previous }, client);
    if (old.status === 400 && old.body.error === 'invalid_grant') refusedOld++;
  });
  t.equal(refreshed, known.length, 'the newest refresh token of every family refreshes');
  t.equal(refusedOld, known.filter((family) => family.previous !== undefined).length, 'and the token before it does not');
  await second.stop('SIGTERM');

  t.comment(
    `${dialect}: killed after ${loadMs} ms of load, ${answered()} answers (${JSON.stringify(statuses)}); ` +
      `access tokens received ${accessTokens.length}, still valid ${stillValid}; ` +
      `refresh families ${families.length} (${families.length - known.length} with a rotation unanswered at the kill), ` +
      `newest refresh token refreshed ${refreshed}/${known.length}; rotations committed ${rotations}`,
  );
});
