// GET /revocations: every kind of revocation becomes an event, on every instance, within a second;
// listeners resume with Last-Event-ID (also after an instance restart), are told to start over
// when they cannot, hear heartbeats, and one that never reads is cut off without slowing anyone.
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { basic, post, registerClient, registerUser, startTessera, tokenRequest, type Running } from './helpers/harness.ts';
import { openStream, type SseEvent, type SseStream } from './helpers/sse.ts';

interface Revoked {
  jti?: string;
  sid?: string;
  sub?: string;
  client_id?: string;
  kid?: string;
  at: number;
  exp: number;
}

const data = (event: SseEvent) => JSON.parse(event.data) as Revoked;

async function listening(t: Test, running: Running): Promise<string> {
  await running.app.listen({ port: 0, host: '127.0.0.1' });
  // Before the app closes (teardowns run last first): fetch keeps idle connections open for as long
  // as the server's Keep-Alive allows, which would hold up every test's end.
  t.teardown(() => running.app.server.closeAllConnections());
  return `http://127.0.0.1:${(running.app.server.address() as AddressInfo).port}`;
}

/** A server with a client allowed to listen, one JWT client and one opaque client with users. */
async function setUp(t: Test, env: Record<string, string> = {}, running?: Running) {
  const server = running ?? (await startTessera(t, { env }));
  const url = await listening(t, server);
  const listener = await registerClient(server.tessera, { name: 'resource server', introspect: true });
  const jwt = await registerClient(server.tessera, { tokenFormat: 'jwt', grants: ['password', 'client_credentials'], accessTtl: 600 });
  const opaque = await registerClient(server.tessera, { grants: ['password'] });
  return { server, url, listener, jwt, opaque };
}

function listen(url: string, client: { id: string; secret?: string }, headers: Record<string, string> = {}): Promise<SseStream> {
  return openStream(`${url}/revocations`, { headers: { authorization: basic(client.id, client.secret!), ...headers } });
}

const revocation = (test: (r: Revoked) => boolean) => (event: SseEvent) => event.event === 'revocation' && test(data(event));

t.test('who may listen', async (t) => {
  const { server, url, listener } = await setUp(t);
  const noIntrospect = await registerClient(server.tessera, { name: 'plain service' });
  const publicClient = await registerClient(server.tessera, {
    public: true,
    grants: ['authorization_code'],
    redirectUris: ['http://localhost:8080/cb'],
  });

  const none = await openStream(`${url}/revocations`);
  t.equal(none.status, 401);
  t.equal(none.body?.error, 'invalid_client');
  const wrong = await listen(url, { id: listener.id, secret: 'tss_wrong' });
  t.equal(wrong.status, 401);
  const plain = await listen(url, noIntrospect);
  t.equal(plain.status, 403, 'a client not allowed to introspect');
  t.equal(plain.body?.error, 'unauthorized_client');
  const pub = await openStream(`${url}/revocations`, { method: 'POST', body: new URLSearchParams({ client_id: publicClient.id }) });
  t.equal(pub.status, 403, 'a public client is never allowed to introspect');

  const ok = await listen(url, listener);
  t.equal(ok.status, 200);
  t.match(ok.headers.get('content-type'), /^text\/event-stream/);
  t.equal(ok.headers.get('cache-control'), 'no-store');
  await ok.next((e) => e.event === 'synced');
  ok.close();

  const posted = await openStream(`${url}/revocations`, {
    method: 'POST',
    body: new URLSearchParams({ client_id: listener.id, client_secret: listener.secret! }),
  });
  t.equal(posted.status, 200, 'POST with client_secret_post');
  await posted.next((e) => e.event === 'synced');
  posted.close();
});

t.test('every kind of revocation is an event within a second', async (t) => {
  const { server, url, listener, jwt, opaque } = await setUp(t);
  const { tessera, app } = server;
  const alice = await registerUser(tessera, 'alice');
  const bob = await registerUser(tessera, 'bob');
  const stream = await listen(url, listener);
  await stream.next((e) => e.event === 'synced');
  const within1s = async (test: (r: Revoked) => boolean, what: string) => {
    const sent = Date.now();
    const event = await stream.next(revocation(test), 3000);
    t.ok(event.receivedAt - sent < 1000, `${what}: within 1 s (${event.receivedAt - sent} ms)`);
    t.match(event.id, /^\d+$/, `${what}: an event id`);
    const body = data(event);
    t.ok(body.exp >= body.at, `${what}: exp no earlier than at`);
    return body;
  };
  const password = (client: { id: string; secret?: string }, who: { username: string; password: string }) =>
    tokenRequest(app, client, { grant_type: 'password', username: who.username, password: who.password });

  // A JWT access token.
  const issued = (await password(jwt, alice)).body_;
  const claims = JSON.parse(Buffer.from((issued.access_token as string).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  t.equal(
    (await post(app, '/revoke', { token: issued.access_token as string }, { headers: { authorization: basic(jwt.id, jwt.secret!) } }))
      .statusCode,
    200,
  );
  const jwtEvent = await within1s((r) => r.jti === claims.jti, 'a JWT');
  t.equal(jwtEvent.exp, claims.exp, "a JWT's event lasts until the token expires");
  t.ok(jwtEvent.at <= Math.ceil(Date.now() / 1000), 'and names the moment of its revocation');

  // An opaque access token: its jti is the one introspection shows.
  const opaqueToken = (await password(opaque, bob)).body_;
  const introspected = (
    await post(
      app,
      '/introspect',
      { token: opaqueToken.access_token as string },
      { headers: { authorization: basic(listener.id, listener.secret!) } },
    )
  ).body_;
  await post(
    app,
    '/revoke',
    { token: opaqueToken.access_token as string },
    { headers: { authorization: basic(opaque.id, opaque.secret!) } },
  );
  await within1s((r) => r.jti === introspected.jti, 'an opaque access token');

  // A refresh token: its family (the sid of the JWTs issued from it).
  const family = (await password(jwt, bob)).body_;
  const sid = JSON.parse(Buffer.from((family.access_token as string).split('.')[1]!, 'base64url').toString()).sid as string;
  await post(app, '/revoke', { token: family.refresh_token as string }, { headers: { authorization: basic(jwt.id, jwt.secret!) } });
  const familyEvent = await within1s((r) => r.sid === sid, 'a refresh family');
  t.ok(Math.abs(familyEvent.exp - Math.floor(Date.now() / 1000) - 600) <= 2, "until the client's access tokens have expired");
  t.equal(familyEvent.at, familyEvent.exp, 'a family never issues a good token again: every token of it is revoked');

  // A reused refresh token revokes its family too.
  const reused = (await password(jwt, alice)).body_;
  const reusedSid = JSON.parse(Buffer.from((reused.access_token as string).split('.')[1]!, 'base64url').toString()).sid as string;
  const refresh = { grant_type: 'refresh_token', refresh_token: reused.refresh_token as string };
  t.equal((await tokenRequest(app, jwt, refresh)).statusCode, 200);
  t.equal((await tokenRequest(app, jwt, refresh)).statusCode, 400, 'reuse');
  await within1s((r) => r.sid === reusedSid, 'a reused refresh token');

  // A user deactivated, and a user whose password changed.
  await tessera.users.setActive('bob', false);
  const deactivated = await within1s((r) => r.sub === bob.user.id && r.jti === undefined, 'a deactivated user');
  t.ok(deactivated.at < deactivated.exp, 'a user goes on signing in: a moment, not the end');
  await tessera.users.setPassword('alice', 'a brand new password');
  await within1s((r) => r.sub === alice.user.id, 'a new password');

  // A deleted client, and a revoked signing key.
  await tessera.clients.delete(opaque.id);
  const deleted = await within1s((r) => r.client_id === opaque.id, 'a deleted client');
  t.equal(deleted.at, deleted.exp, 'every token of a deleted client');
  const kid = tessera.keys.signingKey().kid;
  await tessera.revokeKey(kid);
  const keyEvent = await within1s((r) => r.kid === kid, 'a revoked key');
  t.equal(keyEvent.at, keyEvent.exp, 'every token of a revoked key, a forged one minted later too');

  const ids = stream.events.filter((e) => e.event === 'revocation').map((e) => Number(e.id));
  t.same(
    ids,
    [...ids].sort((a, b) => a - b),
    'ids increase',
  );
  t.equal(new Set(ids).size, ids.length, 'no event twice');
  stream.close();
});

t.test('replay, resume with Last-Event-ID (also after a restart), reset', async (t) => {
  const first = await setUp(t);
  const { url, listener, jwt } = first;
  const revokeJwt = async (app: Running['app']) => {
    const token = (await tokenRequest(app, jwt, { grant_type: 'client_credentials' })).body_.access_token as string;
    await post(app, '/revoke', { token }, { headers: { authorization: basic(jwt.id, jwt.secret!) } });
    return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
  };
  const jtis = [await revokeJwt(first.server.app), await revokeJwt(first.server.app), await revokeJwt(first.server.app)];

  const fresh = await listen(url, listener);
  const synced = await fresh.next((e) => e.event === 'synced');
  const replayed = fresh.events.filter((e) => e.event === 'revocation');
  t.same(
    replayed.map((e) => data(e).jti),
    jtis,
    'a new listener is first sent every revocation still in force',
  );
  t.equal(synced.id, replayed.at(-1)!.id, 'synced carries the id to resume from');
  fresh.close();

  const resumed = await listen(url, listener, { 'last-event-id': replayed[0]!.id! });
  await resumed.next((e) => e.event === 'synced');
  t.same(
    resumed.events.filter((e) => e.event === 'revocation').map((e) => data(e).jti),
    jtis.slice(1),
    'resuming sends only what came after',
  );
  t.notOk(
    resumed.events.some((e) => e.event === 'reset'),
    'no reset',
  );
  resumed.close();

  // Another instance on the same database, after this one is gone: the ids are the database's.
  await first.server.app.close();
  const second = await startTessera(t, { db: first.server.db });
  const secondUrl = await listening(t, second);
  const later = await revokeJwt(second.app);
  const afterRestart = await listen(secondUrl, listener, { 'last-event-id': synced.id! });
  await afterRestart.next((e) => e.event === 'synced');
  t.same(
    afterRestart.events.filter((e) => e.event === 'revocation').map((e) => data(e).jti),
    [later],
    'resumed on another instance: only what it missed',
  );
  afterRestart.close();

  for (const unknown of ['999999', 'not-an-id', '-1']) {
    const lost = await listen(secondUrl, listener, { 'last-event-id': unknown });
    await lost.next((e) => e.event === 'synced');
    t.equal(lost.events.find((e) => e.event !== ':comment')?.event, 'reset', `Last-Event-ID ${unknown}: reset first`);
    t.same(
      lost.events.filter((e) => e.event === 'revocation').map((e) => data(e).jti),
      [...jtis, later],
      'then everything in force',
    );
    lost.close();
  }
});

t.test('two instances: a revocation on one reaches a listener on the other within a second', async (t) => {
  const a = await setUp(t);
  const b = await startTessera(t, { db: a.server.db });
  const bUrl = await listening(t, b);
  const stream = await listen(bUrl, a.listener);
  await stream.next((e) => e.event === 'synced');
  for (let i = 0; i < 3; i++) {
    const token = (await tokenRequest(a.server.app, a.jwt, { grant_type: 'client_credentials' })).body_.access_token as string;
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    const sent = Date.now();
    await post(a.server.app, '/revoke', { token }, { headers: { authorization: basic(a.jwt.id, a.jwt.secret!) } });
    const event = await stream.next(
      revocation((r) => r.jti === jti),
      3000,
    );
    t.ok(event.receivedAt - sent < 1000, `revoked on A, heard on B in ${event.receivedAt - sent} ms`);
  }
  stream.close();
});

t.test('heartbeats, the listener limit, and shutdown', async (t) => {
  const { server, url, listener } = await setUp(t, { TESSERA_STREAM_HEARTBEAT: '1', TESSERA_STREAM_MAX_LISTENERS: '2' });
  const one = await listen(url, listener);
  await one.next((e) => e.event === ':comment' && e.data === 'heartbeat', 2500);
  t.pass('a heartbeat within the interval');
  const two = await listen(url, listener);
  t.equal(two.status, 200);
  const three = await listen(url, listener);
  t.equal(three.status, 503, 'beyond the limit');
  t.equal(three.headers.get('retry-after'), '5');
  t.equal(three.body?.error, 'temporarily_unavailable');
  two.close();
  await new Promise((r) => setTimeout(r, 200));
  const again = await listen(url, listener);
  t.equal(again.status, 200, 'a place freed by a listener that left');
  const metrics = await server.admin.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /tessera_revocation_stream_listeners 2/);
  const closed = Date.now();
  await server.app.close();
  t.ok(Date.now() - closed < 3000, 'closing the app ends the streams rather than waiting for them');
  one.close();
  again.close();
});

t.test('a listener that never reads is cut off, and nobody else notices', async (t) => {
  const { server, url, listener, jwt } = await setUp(t, { TESSERA_REQUEST_TIMEOUT: '2' });
  const { port } = server.app.server.address() as AddressInfo;
  const reader = await listen(url, listener);
  await reader.next((e) => e.event === 'synced');

  // A raw connection that asks for the stream and then never reads a byte.
  const stalled = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => stalled.once('connect', resolve));
  stalled.pause();
  stalled.write(`GET /revocations HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(listener.id, listener.secret!)}\r\n\r\n`);
  let stalledClosed = false;
  stalled.on('close', () => (stalledClosed = true));
  stalled.on('error', () => {});
  await new Promise((r) => setTimeout(r, 300));

  // Far more than the stalled peer's socket buffers and the server's limit can hold.
  const at = new Date();
  const exp = new Date(at.getTime() + 600_000);
  for (let batch = 0; batch < 10; batch++) {
    const facts = Array.from({ length: 5000 }, (_, i) => ({ jti: `bulk-${batch}-${i}-${'x'.repeat(300)}`, at, exp }));
    await server.tessera.store.feed.commit([], [], facts);
  }
  const token = (await tokenRequest(server.app, jwt, { grant_type: 'client_credentials' })).body_.access_token as string;
  const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
  await post(server.app, '/revoke', { token }, { headers: { authorization: basic(jwt.id, jwt.secret!) } });
  await reader.next(
    revocation((r) => r.jti === jti),
    10_000,
  );
  t.pass('the reading listener got every event, the last one too');
  const cutOff = async () =>
    /tessera_revocation_stream_cut_off_total 1/.test((await server.admin.inject({ method: 'GET', url: '/metrics' })).body);
  for (let i = 0; i < 50 && !(await cutOff()); i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(await cutOff(), 'the stalled listener was cut off after the request timeout');
  t.match(
    (await server.admin.inject({ method: 'GET', url: '/metrics' })).body,
    /tessera_revocation_stream_listeners 1/,
    'the reader remains',
  );
  // Reading at last, the stalled peer finds the stream ended.
  stalled.resume();
  for (let i = 0; i < 50 && !stalledClosed; i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(stalledClosed, 'its connection is closed');
  t.equal((await post(server.app, '/token/verify', { token })).statusCode, 401, 'and the server still serves');
  reader.close();
  stalled.destroy();
});

t.test('a listener gone before it was admitted holds no place', async (t) => {
  const { server, url } = await setUp(t, { TESSERA_STREAM_MAX_LISTENERS: '1' });
  // A private_key_jwt client whose jwks_uri answers slowly: its authentication takes a while.
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k' }] });
  const keyServer = createServer((_req, res) =>
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks), 800),
  );
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    keyServer.closeAllConnections();
    keyServer.close();
  });
  const jwksUri = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks`;
  const { client } = await server.tessera.clients.register({ name: 'keyed listener', introspect: true, jwksUri });
  const assertion = () =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer(client.id)
      .setSubject(client.id)
      .setAudience(server.config.issuer)
      .setJti(randomUUID())
      .setExpirationTime('1m')
      .sign(privateKey);
  const form = async () =>
    new URLSearchParams({
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await assertion(),
    });

  // Asks, then hangs up while the server still fetches the client's keys.
  const { port } = server.app.server.address() as AddressInfo;
  const body = (await form()).toString();
  const impatient = net.connect(port, '127.0.0.1');
  impatient.on('error', () => {});
  await new Promise((resolve) => impatient.once('connect', resolve));
  impatient.write(
    `POST /revocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  await new Promise((r) => setTimeout(r, 200));
  impatient.destroy();
  await new Promise((r) => setTimeout(r, 1200));
  t.equal(server.tessera.revocationStream.listeners, 0, 'no listener left behind');

  // The one place there is remains free for a listener that stays.
  const stays = await openStream(`${url}/revocations`, { method: 'POST', body: await form() });
  t.equal(stays.status, 200);
  await stays.next((e) => e.event === 'synced');
  stays.close();
});
