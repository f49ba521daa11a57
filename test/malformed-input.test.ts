// Malformed requests are 4xx before they reach anything: broken percent-encoding, bytes that are
// not UTF-8 and NUL characters, in a form, a JSON body or a query string, on both databases
// (PostgreSQL refuses NUL in text, so a NUL that reached a query used to be a 500). A Bearer
// header that is present but malformed is invalid_token at /token/verify.
import { connect } from 'node:net';
import t from 'tap';
import type { InjectOptions } from 'fastify';
import { basic, registerClient, startTessera, tokenRequest } from './helpers/harness.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

t.test('malformed input is refused at every endpoint', async (t) => {
  const { app, tessera } = await startTessera(t);
  const client = await registerClient(tessera, { introspect: true });
  const auth = { authorization: basic(client.id, client.secret!) };
  const token = (await tokenRequest(app, client, { grant_type: 'client_credentials' })).body_.access_token as string;

  const refused = async (what: string, request: InjectOptions) => {
    const res = await app.inject(request);
    t.equal(res.statusCode, 400, `${what}: 400`);
    if (res.headers['content-type']?.toString().startsWith('application/json')) {
      t.equal(JSON.parse(res.body).error, 'invalid_request', `${what}: invalid_request`);
    }
    t.notMatch(res.body, /at \S+ \(|node_modules|prisma|SQL/i, `${what}: nothing from inside`);
  };

  for (const body of ['token=%E0%A4%A', 'token=%zz', 'token=%FF%FE', `token=${token}&x=%`]) {
    await refused(`/introspect ${body.slice(0, 20)}`, { method: 'POST', url: '/introspect', headers: { ...FORM, ...auth }, payload: body });
    await refused(`/revoke ${body.slice(0, 20)}`, { method: 'POST', url: '/revoke', headers: { ...FORM, ...auth }, payload: body });
    await refused(`/token/verify ${body.slice(0, 20)}`, { method: 'POST', url: '/token/verify', headers: FORM, payload: body });
  }
  const JSON_TYPE = { 'content-type': 'application/json' };
  await refused('a JSON body with bytes that are not UTF-8', {
    method: 'POST',
    url: '/introspect',
    headers: { ...JSON_TYPE, ...auth },
    payload: Buffer.concat([Buffer.from(`{"token":"${token}","x":"x`), Buffer.from([0xff]), Buffer.from('"}')]),
  });
  await refused('a lone surrogate in JSON', {
    method: 'POST',
    url: '/token/verify',
    headers: JSON_TYPE,
    payload: `{"token":"${token}","audience":"\\ud800"}`,
  });
  await refused('a malformed query string on a POST endpoint that reads none', {
    method: 'POST',
    url: '/introspect?x=%zz',
    headers: { ...FORM, ...auth },
    payload: `token=${token}`,
  });
  await refused('a NUL in a query string nobody reads', { method: 'GET', url: '/healthz?x=%00' });
  await refused('/token broken grant_type', {
    method: 'POST',
    url: '/token',
    headers: { ...FORM, ...auth },
    payload: 'grant_type=client_%credentials',
  });
  await refused('raw bytes that are not UTF-8', {
    method: 'POST',
    url: '/introspect',
    headers: { ...FORM, ...auth },
    payload: Buffer.concat([Buffer.from('token='), Buffer.from([0xc3, 0x28])]),
  });

  // NUL characters, percent-encoded in a form, escaped in JSON, in a query string.
  await refused('/introspect NUL', { method: 'POST', url: '/introspect', headers: { ...FORM, ...auth }, payload: 'token=abc%00def' });
  await refused('/token NUL client_id', {
    method: 'POST',
    url: '/token',
    headers: FORM,
    payload: 'grant_type=client_credentials&client_id=a%00b',
  });
  await refused('/token JSON NUL', {
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ grant_type: 'password', client_id: client.id, username: 'a\u0000b', password: 'x' }),
  });
  await refused('/authorize NUL client_id', { method: 'GET', url: '/authorize?response_type=code&client_id=a%00b' });
  await refused('/authorize broken query', { method: 'GET', url: '/authorize?response_type=code&client_id=%E0%A4%A' });
  const nulBasic = `Basic ${Buffer.from(`${client.id}\u0000:${client.secret!}`).toString('base64')}`;
  for (const url of ['/token', '/token/refresh', '/introspect', '/revoke']) {
    await refused(`${url} NUL in Basic`, {
      method: 'POST',
      url,
      headers: { ...FORM, authorization: nulBasic },
      payload: url === '/token' ? 'grant_type=client_credentials' : `token=${token}&refresh_token=tsr_x`,
    });
  }

  t.test('a present but malformed Bearer token is invalid_token', async (t) => {
    for (const header of ['Bearer not a token at all', 'Bearer', 'Bearer  ', `Bearer ${token}\u0000`]) {
      const res = await app.inject({ method: 'POST', url: '/token/verify', headers: { authorization: header } });
      t.equal(res.statusCode, 401, `${JSON.stringify(header)}: 401`);
      t.equal(JSON.parse(res.body).error, 'invalid_token');
      t.match(res.headers['www-authenticate'], /^Bearer error="invalid_token"/);
    }
    const none = await app.inject({ method: 'POST', url: '/token/verify' });
    t.equal(JSON.parse(none.body).error, 'invalid_request', 'no token at all stays invalid_request');
  });

  t.test('well-formed encodings still work, and the server keeps serving', async (t) => {
    const plus = await app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { ...FORM, ...auth },
      payload: `token=${token}&x=a+b%20c%C3%A9`,
    });
    t.equal(JSON.parse(plus.body).active, true);
    const still = await tokenRequest(app, client, { grant_type: 'client_credentials' });
    t.equal(still.statusCode, 200);
  });
});

t.test('what Node refuses before Fastify gets the same error shape', async (t) => {
  const { app } = await startTessera(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const raw = (request: string) =>
    new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => {});
      socket.end(request);
    });
  for (const request of [
    'GET /token? HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
    `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  ]) {
    const answer = await raw(request);
    // The chunked case is two requests to Node: a 404 for the first, the refusal for the second.
    const [head, body] = answer.slice(answer.lastIndexOf('HTTP/1.1 ')).split('\r\n\r\n');
    t.match(head, /^HTTP\/1\.1 4(00|31) /, `refused: ${request.slice(0, 30)}`);
    t.same(Object.keys(JSON.parse(body!)), ['error', 'error_description']);
    t.equal(JSON.parse(body!).error, 'invalid_request');
  }
});
