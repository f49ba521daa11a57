// Unknown keys must not crowd real entries out of the read cache: a flood of made-up client ids
// and well-formed but unknown opaque tokens, far larger than the cache, leaves a real client and a
// real token served from memory. Client ids too long to be ours never reach a lookup.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { buildApp } from '../src/app.ts';
import { createLogger } from '../src/logger.ts';
import { Tessera } from '../src/tessera.ts';
import { basic, post, registerClient, testConfig, testDatabase, tokenRequest } from './helpers/harness.ts';

/** Room for a handful of entries, and a handful of misses. */
const SMALL = { accessTokens: 4, users: 4, clients: 4, grants: 4, misses: 4 };
const FLOOD = 60;

/** Counts the calls of one method of a real object; the method itself still runs. */
function countCalls<O extends object>(object: O, name: keyof O & string): { calls: number } {
  const original: unknown = object[name];
  if (typeof original !== 'function') throw new Error(`${name} is not a method`);
  const counter = { calls: 0 };
  Object.defineProperty(object, name, {
    configurable: true,
    writable: true,
    value: (...args: unknown[]): unknown => {
      counter.calls++;
      return Reflect.apply(original, object, args);
    },
  });
  return counter;
}

t.test('a flood of unknown ids and tokens does not evict real entries', async (t) => {
  const config = testConfig(await testDatabase(t));
  const tessera = await Tessera.open(config, createLogger('silent'), { background: true, schema: 'apply', cacheSizes: SMALL });
  const app = await buildApp(tessera);
  t.teardown(async () => {
    await app.close();
    await tessera.close();
  });
  const client = await registerClient(tessera, { scopes: ['read'] });
  const token = (await tokenRequest(app, client, { grant_type: 'client_credentials' })).body_.access_token as string;
  t.equal((await post(app, '/token/verify', { token })).statusCode, 200, 'the real token, now cached with its client');

  const clientReads = countCalls(tessera.store.clients, 'byId');
  const tokenReads = countCalls(tessera.store.tokens, 'findAccessToken');
  const unknownIds = Array.from({ length: FLOOD }, () => randomBytes(16).toString('base64url'));
  const statuses = new Set<number>();
  for (const id of unknownIds) {
    const res = await post(app, '/token', { grant_type: 'client_credentials' }, { headers: { authorization: basic(id, 'secret') } });
    statuses.add(res.statusCode);
  }
  t.same([...statuses], [401], 'every unknown client id: 401');
  statuses.clear();
  for (let i = 0; i < FLOOD; i++) {
    const res = await post(app, '/token/verify', { token: `tsa_${randomBytes(32).toString('base64url')}` });
    statuses.add(res.statusCode);
  }
  t.same([...statuses], [401], 'every unknown opaque token: 401');
  t.equal(clientReads.calls, FLOOD, 'each unknown client id was looked up');
  t.equal(tokenReads.calls, FLOOD, 'each unknown token was looked up');

  clientReads.calls = 0;
  tokenReads.calls = 0;
  const verified = await post(app, '/token/verify', { token });
  t.equal(verified.statusCode, 200);
  const issued = await tokenRequest(app, client, { grant_type: 'client_credentials' });
  t.equal(issued.statusCode, 200);
  t.equal(tokenReads.calls, 0, 'the real token is still served from memory');
  t.equal(clientReads.calls, 0, 'the real client is still served from memory');

  const again = await post(
    app,
    '/token',
    { grant_type: 'client_credentials' },
    { headers: { authorization: basic(unknownIds.at(-1)!, 'x') } },
  );
  t.equal(again.statusCode, 401);
  t.equal(clientReads.calls, 0, 'a miss asked again at once is remembered, apart from the entries');
});

t.test('a client id over 128 characters is refused before any lookup', async (t) => {
  const config = testConfig(await testDatabase(t));
  const tessera = await Tessera.open(config, createLogger('silent'), { background: true, schema: 'apply', cacheSizes: SMALL });
  const app = await buildApp(tessera);
  t.teardown(async () => {
    await app.close();
    await tessera.close();
  });
  const clientReads = countCalls(tessera.store.clients, 'byId');
  const long = 'a'.repeat(129);
  const basicAuth = await post(app, '/token', { grant_type: 'client_credentials' }, { headers: { authorization: basic(long, 'secret') } });
  t.equal(basicAuth.statusCode, 401);
  t.equal(basicAuth.body_.error, 'invalid_client');
  const publicClient = await post(app, '/token', { grant_type: 'client_credentials', client_id: long });
  t.equal(publicClient.statusCode, 401);
  const authorize = await app.inject({ method: 'GET', url: `/authorize?response_type=code&client_id=${long}` });
  t.ok(authorize.statusCode >= 400 && authorize.statusCode < 500, 'the sign-in page refuses it');
  t.equal(clientReads.calls, 0, 'no lookup for any of them');
});
