// Nothing secret is stored in plaintext: after issuing every kind of token, no token, client
// secret, password or private key appears anywhere in the database.
import t from 'tap';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { dialect, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';
import { sqlitePath } from '../src/store/dialects/sqlite.ts';
import { pgPoolConfig } from '../src/store/dialects/postgresql.ts';

async function databaseText(url: string): Promise<string> {
  if (dialect === 'sqlite') {
    // The whole file and its write-ahead log, bytes as text: every row of every table.
    const path = sqlitePath(url);
    return [path, `${path}-wal`]
      .map((p) => {
        try {
          return readFileSync(p).toString('latin1');
        } catch {
          return '';
        }
      })
      .join('\n');
  }
  const client = new pg.Client(pgPoolConfig(url));
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    const dumps = await Promise.all(
      tables.rows.map(async ({ table_name }) => JSON.stringify((await client.query(`SELECT * FROM "${table_name}"`)).rows)),
    );
    return dumps.join('\n');
  } finally {
    await client.end();
  }
}

t.test('the database holds no secret in plaintext', async (t) => {
  const { app, tessera, db } = await startTessera(t);
  const { username, password } = await registerUser(tessera, 'zoe', 'a very particular password');
  const opaque = await registerClient(tessera, { grants: ['password', 'client_credentials'] });
  const jwt = await registerClient(tessera, { grants: ['password'], tokenFormat: 'jwt' });
  const secrets = [password, opaque.secret!, jwt.secret!];
  for (const client of [opaque, jwt]) {
    const first = (await tokenRequest(app, client, { grant_type: 'password', username, password })).body_;
    const second = (await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token as string })).body_;
    secrets.push(...[first, second].flatMap((b) => [b.access_token as string, b.refresh_token as string]));
  }
  secrets.push((await tokenRequest(app, opaque, { grant_type: 'client_credentials' })).body_.access_token as string);
  const text = await databaseText(db.url);
  t.notMatch(text, /PRIVATE KEY|"d":/, 'no signing key in the clear (PEM or JWK)');
  t.ok(text.length > 1000, 'read the database');
  t.ok(text.includes(username), 'the dump does contain what is stored in the clear');
  for (const secret of secrets) {
    t.notOk(text.includes(secret), `not stored: ${secret.slice(0, 8)}…`);
    // The body of an opaque token without its prefix must not be there either.
    if (/^ts[ars]_/.test(secret)) t.notOk(text.includes(secret.slice(4)), 'nor its random part');
  }
});
