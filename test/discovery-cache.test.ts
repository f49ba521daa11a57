// Discovery is public and unauthenticated: its document is built once and kept in memory, rebuilt
// only when a client is created, changed or deleted — on this instance or on another one sharing
// the database — so that no request reads the client table.
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { registerClient, startTessera } from './helpers/harness.ts';

const METADATA = '/.well-known/oauth-authorization-server';

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

const metadata = async (app: FastifyInstance) => {
  const res = await app.inject({ method: 'GET', url: METADATA });
  return { status: res.statusCode, doc: JSON.parse(res.body) as { scopes_supported: string[]; grant_types_supported: string[] } };
};

/**
 * An instance hears its own changes a second time from the feed (PostgreSQL notifies every
 * listener, SQLite's poll reads every new row), within a second: past that, the document stands.
 */
const feedSettled = () => new Promise((resolve) => setTimeout(resolve, 1500));

t.test('the document is built once, and again only when a client changes', async (t) => {
  const { app, tessera } = await startTessera(t);
  await registerClient(tessera, { scopes: ['read'] });
  await feedSettled();
  const lists = countCalls(tessera.store.clients, 'list');
  const byId = countCalls(tessera.store.clients, 'byId');
  const first = await metadata(app);
  t.equal(first.status, 200);
  t.same(first.doc.scopes_supported, ['openid', 'read'], 'openid is always listed');
  t.equal(lists.calls, 1, 'the first request builds the document');
  const asked = await Promise.all(Array.from({ length: 50 }, () => metadata(app)));
  t.ok(
    asked.every((res) => res.status === 200 && JSON.stringify(res.doc) === JSON.stringify(first.doc)),
    'the same document every time',
  );
  t.equal(lists.calls, 1, 'the next 50 read no client list');
  t.equal(byId.calls, 0, 'and no client row one by one');

  await registerClient(tessera, { scopes: ['write'], grants: ['password'] });
  const after = await metadata(app);
  t.same(after.doc.scopes_supported, ['openid', 'read', 'write'], 'a client created here shows at once');
  t.ok(after.doc.grant_types_supported.includes('password'));
  t.ok(lists.calls > 1, 'rebuilt for the change');
  await feedSettled();
  await metadata(app);
  lists.calls = 0;
  await Promise.all(Array.from({ length: 20 }, () => metadata(app)));
  t.equal(lists.calls, 0, 'then served from memory again');
});

t.test('a client created or deleted on another instance shows within seconds', async (t) => {
  const here = await startTessera(t);
  const there = await startTessera(t, { db: here.db });
  await registerClient(here.tessera, { scopes: ['read'] });
  t.same((await metadata(here.app)).doc.scopes_supported, ['openid', 'read'], 'built before the change');

  const waitFor = async (wanted: string[]) => {
    const deadline = Date.now() + 5000;
    let seen = (await metadata(here.app)).doc.scopes_supported;
    while (JSON.stringify(seen) !== JSON.stringify(wanted) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      seen = (await metadata(here.app)).doc.scopes_supported;
    }
    return seen;
  };
  const remote = await registerClient(there.tessera, { scopes: ['remote:read'] });
  t.same(await waitFor(['openid', 'read', 'remote:read']), ['openid', 'read', 'remote:read'], 'the other instance created it');
  await there.tessera.clients.delete(remote.id);
  t.same(await waitFor(['openid', 'read']), ['openid', 'read'], 'the other instance deleted it');
});
