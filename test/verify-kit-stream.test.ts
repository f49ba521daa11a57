// @tessera/verify's end of the revocation stream, against a scripted issuer (discovery, JWKS,
// introspection and GET/POST /revocations on a real port), so that every case of the protocol can
// be played exactly: the replay and `synced`, live events and the matching rule, resuming with
// Last-Event-ID, `reset`, heartbeats and frames split anywhere, failures and backoff, both kinds
// of client authentication, and close(). (test/verify-kit-revocations.test.ts does it against Tessera.)
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, exportPKCS8, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createVerifier, TokenError, type VerifierOptions } from '@tessera/verify';
import { rejection, within } from './helpers/verify-kit.ts';

const CLIENT_ID = 'resource server';
const CLIENT_SECRET = 'se:cret+with %specials';

interface StreamRequest {
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A scripted issuer. `onConnect` decides how each connection to /revocations is answered. */
async function fakeIssuer(t: Test) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const streamRequests: StreamRequest[] = [];
  const introspections: StreamRequest[] = [];
  const open = new Set<ServerResponse>();
  const answers = new Map<string, Record<string, unknown>>();
  let latest: ServerResponse | undefined;
  const fake = {
    issuer: '',
    streamRequests,
    introspections,
    answers,
    /** How a connection is answered: a status to refuse it with, or frames to send at once. */
    onConnect: (_request: StreamRequest): number | string => 'retry: 50\n\n: replay\n\nevent: synced\ndata: {}\n\n',
    send: (frame: string) => latest?.write(frame),
    /** Cuts every stream off, as a network failure or a server restart would. */
    drop: () => {
      for (const res of open) res.destroy();
    },
    openStreams: () => open.size,
    async token(claims: Record<string, unknown> = {}, kid = 'k1') {
      const now = Math.floor(Date.now() / 1000);
      // Issued a little while ago, so that an event sent now (`at`: now) covers it when it matches.
      const base = {
        iss: fake.issuer,
        sub: 'alice',
        aud: fake.issuer,
        client_id: 'app',
        scope: 'read',
        iat: now - 10,
        exp: now + 300,
        jti: randomUUID(),
      };
      return new SignJWT({ ...base, ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey);
    },
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const seen = { method: req.method ?? '', headers: req.headers, body };
      const json = (value: unknown, status = 200) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.url === '/.well-known/oauth-authorization-server') {
        return json({ issuer: fake.issuer, jwks_uri: `${fake.issuer}/jwks`, introspection_endpoint: `${fake.issuer}/introspect` });
      }
      if (req.url === '/jwks') return json({ keys: [publicJwk] });
      if (req.url === '/introspect') {
        introspections.push(seen);
        return json(answers.get(new URLSearchParams(body).get('token') ?? '') ?? { active: false });
      }
      if (req.url === '/revocations') {
        streamRequests.push(seen);
        const answer = fake.onConnect(seen);
        if (typeof answer === 'number') return json({ error: 'temporarily_unavailable' }, answer);
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
        res.write(answer);
        open.add(res);
        latest = res;
        res.on('close', () => open.delete(res));
        return;
      }
      json({ error: 'not_found' }, 404);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(() => {
    fake.drop();
    return new Promise((resolve) => server.close(resolve));
  });
  return fake;
}

type Fake = Awaited<ReturnType<typeof fakeIssuer>>;

/**
 * A verifier of the fake issuer, closed at the test's end; with `connected` (the default), once its
 * stream is open, so that what the test sends next reaches it.
 */
async function verifierOf(t: Test, fake: Fake, options: Partial<VerifierOptions> = {}, { connected = true } = {}) {
  const errors: Error[] = [];
  const verifier = createVerifier({
    issuer: fake.issuer,
    introspection: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    onError: (error) => errors.push(error),
    ...options,
  });
  t.teardown(() => verifier.close());
  if (connected && !(await within(5000, () => fake.openStreams() > 0))) throw new Error('the stream did not open within 5 s');
  return { verifier, errors };
}

const accepted = async (promise: Promise<unknown>) => !((await rejection(promise)) instanceof TokenError);
const refused = async (promise: Promise<unknown>) => (await rejection(promise)) instanceof TokenError;
const now = () => Math.floor(Date.now() / 1000);
const revocation = (id: number, fields: Record<string, unknown>) =>
  `id: ${id}\nevent: revocation\ndata: ${JSON.stringify({ at: now(), exp: now() + 600, ...fields })}\n\n`;

t.test('the replay on connecting: JWTs wait for `synced`, and a revoked one never seen before is refused', async (t) => {
  const fake = await fakeIssuer(t);
  const revokedJti = randomUUID();
  let release = () => {};
  fake.onConnect = () => {
    // The replay arrives, but `synced` only when the test says so.
    release = () => fake.send('id: 7\nevent: synced\ndata: {}\n\n');
    return `retry: 50\n\n${revocation(7, { jti: revokedJti })}`;
  };
  const { verifier } = await verifierOf(t, fake);
  const order: string[] = [];
  const pending = verifier.verify(await fake.token()).then(() => order.push('verified'));
  t.equal(fake.streamRequests.length, 1, 'the stream is opened at once');
  await new Promise((r) => setTimeout(r, 200));
  order.push('synced');
  release();
  await pending;
  t.same(order, ['synced', 'verified'], 'the verification waited for the replay');
  t.ok(await refused(verifier.verify(await fake.token({ jti: revokedJti }))), 'a token revoked before the verifier started');

  const request = fake.streamRequests[0]!;
  t.equal(request.method, 'GET');
  t.equal(request.headers['last-event-id'], undefined, 'no Last-Event-ID on the first connection');
  t.equal(request.headers.accept, 'text/event-stream');
  const basic = Buffer.from('resource+server:se%3Acret%2Bwith+%25specials').toString('base64');
  t.equal(request.headers.authorization, `Basic ${basic}`, 'Basic with the form-urlencoded id and secret');
});

t.test('no `synced` within syncTimeoutMs: JWTs are verified without waiting longer', async (t) => {
  const fake = await fakeIssuer(t);
  fake.onConnect = () => ': connected, and then nothing\n\n';
  const { verifier } = await verifierOf(t, fake, { syncTimeoutMs: 300 });
  t.ok(await accepted(verifier.verify(await fake.token())));
});

t.test('live events: the matching rule, cached and unseen tokens alike, within 1 s', async (t) => {
  const fake = await fakeIssuer(t);
  const { verifier } = await verifierOf(t, fake);
  const iat = now() - 100;
  const tokens = {
    byJti: await fake.token({ jti: 'j-1' }),
    bySid: await fake.token({ sid: 'family-1', sub: 'bob' }),
    laterThanAt: await fake.token({ sub: 'carol', iat: now() }),
    otherSub: await fake.token({ sub: 'dave', client_id: 'app' }),
    byKid: await fake.token({ sub: 'erin' }, 'k1'),
  };
  for (const token of Object.values(tokens)) t.ok(await accepted(verifier.verify(token)), 'accepted before');
  fake.send(revocation(1, { jti: 'j-1' }));
  fake.send(revocation(2, { sid: 'family-1', sub: 'bob' }));
  fake.send(revocation(3, { sub: 'carol', at: iat }));
  fake.send(revocation(4, { sub: 'frank', client_id: 'app' }));
  t.ok(await within(1000, () => refused(verifier.verify(tokens.byJti))), 'a jti event: refused within 1 s');
  t.ok(await refused(verifier.verify(tokens.bySid)), 'every field present matches: refused');
  t.ok(await accepted(verifier.verify(tokens.laterThanAt)), 'issued after `at`: still good');
  t.ok(await accepted(verifier.verify(tokens.otherSub)), 'one field differs: still good');
  t.ok(await refused(verifier.verify(await fake.token({ sid: 'family-1', sub: 'bob', iat }))), 'a token never seen before, matched');
  t.ok(await accepted(verifier.verify(await fake.token({ sid: 'family-1', sub: 'someone else', iat }))));

  fake.send(revocation(5, { kid: 'k1' }));
  t.ok(await within(1000, () => refused(verifier.verify(tokens.byKid))), 'a kid event: every token of that key');
  t.ok(await accepted(verifier.verify(await fake.token({ iat: now() + 1 }))), 'but not one issued after it');
});

t.test('an opaque token: its cached introspection is dropped by a matching event', async (t) => {
  const fake = await fakeIssuer(t);
  const { verifier } = await verifierOf(t, fake);
  const token = `tsa_${'x'.repeat(43)}`;
  const answer = { active: true, sub: 'alice', client_id: 'app', scope: 'read', aud: fake.issuer, iss: fake.issuer, token_type: 'Bearer' };
  fake.answers.set(token, { ...answer, jti: 'o-1', sid: 'family-9', iat: now() - 5, exp: now() + 300 });
  // A JWT's verification waits for the stream's `synced`: in sync, an answer is kept until the token expires.
  await verifier.verify(await fake.token());
  t.ok(await accepted(verifier.verify(token)));
  const asked = fake.introspections.length;
  t.ok(await accepted(verifier.verify(token)));
  t.equal(fake.introspections.length, asked, 'answered from memory');
  t.match(fake.introspections[0]!.body, /token_type_hint=access_token/);
  t.equal(fake.introspections[0]!.headers.authorization, fake.streamRequests[0]!.headers.authorization, 'the same client authentication');

  fake.send(revocation(1, { sid: 'family-9' }));
  fake.answers.set(token, { active: false });
  t.ok(await within(1000, () => refused(verifier.verify(token))), 'refused within 1 s');
  t.equal(fake.introspections.length, asked + 1, 'asked again: the cached answer was dropped');
});

t.test('resuming after a drop: Last-Event-ID, and what was missed is applied', async (t) => {
  const fake = await fakeIssuer(t);
  const { verifier, errors } = await verifierOf(t, fake);
  const missed = await fake.token({ jti: 'missed' });
  t.ok(await accepted(verifier.verify(missed)));
  fake.send(revocation(41, { jti: 'seen' }));
  fake.send(': heartbeat\n\n');
  await new Promise((r) => setTimeout(r, 100));
  fake.onConnect = (request) => {
    if (request.headers['last-event-id'] !== '41') return 400;
    return `retry: 50\n\n${revocation(42, { jti: 'missed' })}id: 42\nevent: synced\ndata: {}\n\n`;
  };
  fake.drop();
  t.ok(await within(3000, () => refused(verifier.verify(missed))), 'the event sent while disconnected is applied');
  t.same(
    fake.streamRequests.map((r) => r.headers['last-event-id']),
    [undefined, '41'],
    'reconnected once, with the id of the last event received',
  );
  t.ok(errors.length <= 1, 'a drop is reported at most once');
});

t.test('`reset`: every cached answer and known revocation is dropped, then the replay applies', async (t) => {
  const fake = await fakeIssuer(t);
  const { verifier } = await verifierOf(t, fake);
  const opaque = `tsa_${'r'.repeat(43)}`;
  fake.answers.set(opaque, { active: true, sub: 'alice', client_id: 'app', aud: fake.issuer, jti: 'o-2', iat: now(), exp: now() + 300 });
  t.ok(await accepted(verifier.verify(opaque)));
  fake.send(revocation(3, { jti: 'forgotten' }));
  t.ok(await within(1000, async () => refused(verifier.verify(await fake.token({ jti: 'forgotten' })))));
  const asked = fake.introspections.length;

  fake.onConnect = () =>
    `retry: 50\n\nid: 9\nevent: reset\ndata: {}\n\n${revocation(9, { jti: 'replayed' })}id: 9\nevent: synced\ndata: {}\n\n`;
  fake.drop();
  t.ok(await within(3000, () => fake.streamRequests.length === 2));
  t.equal(fake.streamRequests[1]!.headers['last-event-id'], '3');
  t.ok(await refused(verifier.verify(await fake.token({ jti: 'replayed' }))), 'the replay after the reset applies');
  t.ok(await accepted(verifier.verify(await fake.token({ jti: 'forgotten' }))), 'a revocation not in the replay is forgotten');
  t.ok(await accepted(verifier.verify(opaque)));
  t.equal(fake.introspections.length, asked + 1, 'the cached introspection was dropped');
});

t.test('frames split anywhere, CRLF line ends, comments, multi-line data', async (t) => {
  const fake = await fakeIssuer(t);
  const { verifier, errors } = await verifierOf(t, fake);
  t.ok(await accepted(verifier.verify(await fake.token())));
  // Two data lines, joined with "\n" by the parser: JSON does not mind a line break between its tokens.
  const frame = (jti: string) =>
    `: heartbeat\r\n\r\nid: 77\r\nevent: revocation\r\ndata: {"jti": "${jti}",\r\ndata:"at": ${now()}, "exp": ${now() + 60}}\r\n\r\n`;
  const length = frame('split-00').length;
  for (const cut of [3, 14, 15, 30, 31, 50, length - 3, length - 2, length - 1]) {
    t.test(`cut at ${cut}`, async (t) => {
      const jti = `split-${String(cut).padStart(2, '0')}`;
      const text = frame(jti);
      fake.send(text.slice(0, cut));
      await new Promise((r) => setTimeout(r, 30));
      fake.send(text.slice(cut));
      t.ok(await within(1000, async () => refused(verifier.verify(await fake.token({ jti })))));
    });
  }
  t.test('a malformed event is reported, and the stream goes on', async (t) => {
    fake.send('event: revocation\ndata: {"jti": 5}\n\n');
    fake.send(revocation(100, { jti: 'after-the-bad-one' }));
    t.ok(await within(1000, async () => refused(verifier.verify(await fake.token({ jti: 'after-the-bad-one' })))));
    t.match(errors.at(-1)?.message, /malformed revocation event/);
  });
});

t.test('a refused connection: reported, retried with backoff until it works', async (t) => {
  const fake = await fakeIssuer(t);
  let refusals = 2;
  fake.onConnect = () => (refusals-- > 0 ? 503 : 'retry: 50\n\nevent: synced\ndata: {}\n\n');
  const { verifier, errors } = await verifierOf(t, fake, {}, { connected: false });
  t.ok(await within(10_000, () => fake.openStreams() === 1), 'connected in the end');
  t.equal(fake.streamRequests.length, 3);
  t.equal(errors.length, 2);
  t.match(errors[0]?.message, /answered 503/);
  t.ok(await accepted(verifier.verify(await fake.token())));
});

t.test('close(): the stream ends, and nothing reconnects', async (t) => {
  const fake = await fakeIssuer(t);
  const { verifier } = await verifierOf(t, fake);
  verifier.close();
  t.ok(await within(2000, () => fake.openStreams() === 0), 'the connection is closed');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(fake.streamRequests.length, 1, 'no reconnection');
});

t.test('private_key_jwt: the stream is opened with POST and a fresh assertion, introspection too', async (t) => {
  for (const [alg, type] of [
    ['ES256', 'jwk'],
    ['RS256', 'pem'],
    ['EdDSA', 'CryptoKey'],
  ] as const) {
    t.test(`${alg}, the key as a ${type}`, async (t) => {
      const fake = await fakeIssuer(t);
      const keys = await generateKeyPair(alg, { extractable: true });
      const privateKey: string | JWK | CryptoKey =
        type === 'jwk'
          ? { ...(await exportJWK(keys.privateKey)), kid: 'client-key-1' }
          : type === 'pem'
            ? await exportPKCS8(keys.privateKey)
            : keys.privateKey;
      const { verifier } = await verifierOf(t, fake, {
        introspection: { clientId: CLIENT_ID, privateKey, ...(type === 'jwk' ? {} : { kid: 'client-key-1' }) },
      });
      const opaque = `tsa_${'p'.repeat(43)}`;
      fake.answers.set(opaque, {
        active: true,
        sub: 'alice',
        client_id: 'app',
        aud: fake.issuer,
        jti: 'o-3',
        iat: now(),
        exp: now() + 300,
      });
      t.ok(await accepted(verifier.verify(opaque)));
      fake.drop();
      t.ok(await within(3000, () => fake.streamRequests.length === 2), 'reconnected');

      const assertions = [];
      for (const request of [...fake.streamRequests, fake.introspections[0]!]) {
        t.equal(request.method, 'POST');
        t.equal(request.headers.authorization, undefined, 'no Basic credentials');
        t.match(request.headers['content-type'], /^application\/x-www-form-urlencoded/);
        const form = new URLSearchParams(request.body);
        t.equal(form.get('client_id'), CLIENT_ID);
        t.equal(form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
        const { payload, protectedHeader } = await jwtVerify(form.get('client_assertion')!, keys.publicKey, {
          issuer: CLIENT_ID,
          subject: CLIENT_ID,
          audience: fake.issuer,
          algorithms: [alg],
        });
        t.equal(protectedHeader.kid, 'client-key-1');
        t.equal(payload.exp! - payload.iat!, 60, 'valid for a minute');
        assertions.push(payload.jti);
      }
      t.equal(new Set(assertions).size, 3, 'a new jti for every request');
    });
  }

  t.test('a key that does not fit: refused at once', async (t) => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    t.throws(
      () => createVerifier({ issuer: 'http://127.0.0.1:9', introspection: { clientId: 'x', privateKey, alg: 'RS256' } }),
      /does not fit/,
    );
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    t.throws(
      () => createVerifier({ issuer: 'http://127.0.0.1:9', introspection: { clientId: 'x', privateKey: publicKey } }),
      /private key/,
    );
  });
});
