// Who the client is behind a proxy (finding 2), and how long a request may take to arrive
// (finding 17).
import { connect } from 'node:net';
import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.ts';
import { catchError, registerClient, registerUser, startTessera } from './helpers/harness.ts';

t.test('TESSERA_TRUST_PROXY takes addresses, ranges or a hop count, and refuses to trust every hop', async (t) => {
  const trust = (value: string) => loadConfig({ TESSERA_TRUST_PROXY: value }).trustProxy;
  t.equal(trust(''), false);
  t.same(trust('10.0.0.0/8, 192.0.2.7'), ['10.0.0.0/8', '192.0.2.7']);
  t.same(trust('::1,fd00::/8,loopback'), ['::1', 'fd00::/8', 'loopback']);
  t.equal(trust('2'), 2);
  t.equal(trust('0'), false);
  for (const bad of ['true', 'TRUE', '*', 'yes', 'on']) {
    t.throws(() => trust(bad), { message: /any client choose its own address/ }, `${bad} is refused`);
    t.type(
      catchError(() => trust(bad)),
      ConfigError,
    );
  }
  for (const bad of ['10.0.0.0/33', 'proxy.example.com', '10.0.0.1/8/1', '1.2.3', '101']) {
    t.type(
      catchError(() => trust(bad)),
      ConfigError,
      `${bad} is refused`,
    );
  }
});

t.test('booleans take the usual spellings, and anything else is a start-up error', async (t) => {
  t.equal(loadConfig({ TESSERA_LOG_REQUESTS: 'yes' }).logRequests, true);
  t.equal(loadConfig({ TESSERA_LOG_REQUESTS: 'off' }).logRequests, false);
  t.throws(() => loadConfig({ TESSERA_LOG_REQUESTS: 'maybe' }), { message: /TESSERA_LOG_REQUESTS/ });
});

const wrongPassword = (client: { id: string; secret?: string }, username: string, forwardedFor: string) => ({
  method: 'POST' as const,
  url: '/token',
  headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
  payload: new URLSearchParams({
    grant_type: 'password',
    username,
    password: 'not it at all',
    client_id: client.id,
    client_secret: client.secret!,
  }).toString(),
});

t.test('behind a trusted proxy, the address is the one the proxy saw, whatever the client wrote', async (t) => {
  // app.inject comes from 127.0.0.1: that is the proxy.
  const { app, tessera } = await startTessera(t, { env: { TESSERA_TRUST_PROXY: '127.0.0.1' } });
  const client = await registerClient(tessera, { grants: ['password'] });
  for (let i = 0; i < 10; i++) {
    await registerUser(tessera, `user${i}`, 'user password 123');
    t.equal((await app.inject(wrongPassword(client, `user${i}`, '203.0.113.1'))).statusCode, 400);
  }
  const spoofed = await app.inject(wrongPassword(client, 'someone', '198.51.100.77, 203.0.113.1'));
  t.equal(spoofed.statusCode, 429, 'a made-up leftmost X-Forwarded-For entry does not escape the block');
  t.equal((await app.inject(wrongPassword(client, 'someone', '198.51.100.9'))).statusCode, 400, 'another address is not blocked');
});

t.test('with a hop count, the address is that many hops back', async (t) => {
  const { app, tessera } = await startTessera(t, { env: { TESSERA_TRUST_PROXY: '1' } });
  const client = await registerClient(tessera, { grants: ['password'] });
  for (let i = 0; i < 10; i++) t.equal((await app.inject(wrongPassword(client, `u${i}`, `192.0.2.${i}, 203.0.113.2`))).statusCode, 400);
  t.equal((await app.inject(wrongPassword(client, 'v', '203.0.113.2'))).statusCode, 429, 'counted under the address the proxy saw');
});

t.test('a request whose body trickles in is dropped at the request timeout', async (t) => {
  const { app } = await startTessera(t, { env: { TESSERA_REQUEST_TIMEOUT: '1' } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk) => (answer += chunk));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write('POST /introspect HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n');
  let sent = 0;
  const trickle = setInterval(() => {
    if (!socket.destroyed && sent < 60) {
      socket.write('a');
      sent++;
    }
  }, 250);
  await Promise.race([closed, new Promise((r) => setTimeout(r, 15_000))]);
  clearInterval(trickle);
  t.ok(socket.destroyed || socket.readableEnded, 'the connection was closed');
  t.ok(sent < 60, `closed after ${sent} of 100 bytes had trickled in, not held open`);
  t.match(answer, /^HTTP\/1\.1 408/, 'answered 408 Request Timeout');
  socket.destroy();
});
