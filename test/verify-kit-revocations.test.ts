// @tessera/verify and Tessera's revocation stream (GET/POST /revocations): what the server revokes
// is refused by the kit within a second — a JWT cached or never seen, an opaque token it
// remembers, the tokens of a revoked refresh family — after a reconnection too (Last-Event-ID), and
// with a kit that authenticates by private_key_jwt.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import { TokenError, type Verifier } from '@tessera/verify';
import { basic, post, registerClient, registerUser, tokenRequest } from './helpers/harness.ts';
import { postForm } from './helpers/server-process.ts';
import { accessToken, listeningTessera, rejection, verifierFor, within, type Listening } from './helpers/verify-kit.ts';

const refused = async (verifier: Verifier, token: string) => (await rejection(verifier.verify(token))) instanceof TokenError;
const bin = fileURLToPath(new URL('../bin/tessera.js', import.meta.url));

/** `tessera <args> --json` on the server's database, as an operator would run it. */
function tessera(server: Listening, args: string[]): Promise<Record<string, unknown>> {
  const env = {
    ...process.env,
    DATABASE_URL: server.db.url,
    TESSERA_DATA_DIR: server.db.dataDir,
    TESSERA_SECRET: server.config.secret ?? '',
    TESSERA_ISSUER: server.issuer,
    LOG_LEVEL: 'warn',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as Record<string, unknown>)
        : reject(new Error(`tessera ${args.join(' ')}: exit ${code}: ${out}${err}`)),
    );
  });
}

t.test('revocations reach the kit within a second', async (t) => {
  const server = await listeningTessera(t);
  const { issuer, tessera: core } = server;
  const lastEventIds: (string | undefined)[] = [];
  server.app.server.on('request', (request: { url?: string; headers: Record<string, string | string[] | undefined> }) => {
    if (request.url === '/revocations') lastEventIds.push(request.headers['last-event-id'] as string | undefined);
  });
  const jwtClient = await registerClient(core, { tokenFormat: 'jwt', grants: ['client_credentials', 'password'] });
  const opaqueClient = await registerClient(core, { grants: ['client_credentials', 'password'] });
  const resourceServer = await registerClient(core, { introspect: true });
  const introspection = { clientId: resourceServer.id, clientSecret: resourceServer.secret! };
  // Through app.inject: the test below cuts the server's connections, which a real request could race.
  const revoke = async (client: { id: string; secret?: string | undefined }, token: string) => {
    const answer = await post(server.app, '/revoke', { token }, { headers: { authorization: basic(client.id, client.secret!) } });
    if (answer.statusCode !== 200) throw new Error(`/revoke answered ${answer.statusCode}`);
  };

  const revokedEarly = await accessToken(server, jwtClient);
  await revoke(jwtClient, revokedEarly);
  const verifier = verifierFor(t, { issuer, introspection });

  t.test('a JWT revoked before the verifier started is refused (the replay on connecting)', async (t) => {
    t.ok(await refused(verifier, revokedEarly));
    t.same(lastEventIds, [undefined], 'connected once, without Last-Event-ID');
  });

  t.test('a cached JWT, revoked: refused within 1 s', async (t) => {
    const token = await accessToken(server, jwtClient);
    t.notOk(await refused(verifier, token));
    await revoke(jwtClient, token);
    t.ok(await within(1000, () => refused(verifier, token)));
  });

  t.test('a JWT never seen, revoked: refused within 1 s', async (t) => {
    const token = await accessToken(server, jwtClient);
    await revoke(jwtClient, token);
    t.ok(await within(1000, () => refused(verifier, token)));
  });

  t.test('a cached opaque token, revoked: refused within 1 s', async (t) => {
    const token = await accessToken(server, opaqueClient);
    t.notOk(await refused(verifier, token));
    await revoke(opaqueClient, token);
    t.ok(await within(1000, () => refused(verifier, token)));
  });

  t.test('a revoked refresh family: its access tokens, JWT and opaque, refused within 1 s', async (t) => {
    const { username, password } = await registerUser(core, 'fay', 'correct horse battery staple');
    for (const client of [jwtClient, opaqueClient]) {
      const tokens = (await tokenRequest(server.app, client, { grant_type: 'password', username, password })).body_;
      const access = tokens.access_token as string;
      t.notOk(await refused(verifier, access));
      await revoke(client, tokens.refresh_token as string);
      t.ok(await within(1000, () => refused(verifier, access)), `${access.startsWith('tsa_') ? 'opaque' : 'JWT'}: refused`);
    }
  });

  t.test('after a dropped connection: resumed with Last-Event-ID, what was missed is applied', async (t) => {
    const token = await accessToken(server, jwtClient);
    t.notOk(await refused(verifier, token));
    server.app.server.closeAllConnections();
    await revoke(jwtClient, token);
    t.ok(await within(3000, () => refused(verifier, token)), 'refused once reconnected (the server asks for a reconnection after 1 s)');
    t.equal(lastEventIds.length, 2);
    t.match(lastEventIds[1], /^\d+$/, 'resumed from the last event id');
  });
});

t.test('a kit that authenticates with private_key_jwt', async (t) => {
  const server = await listeningTessera(t);
  const { issuer } = server;
  const keys = await generateKeyPair('ES256', { extractable: true });
  const dir = mkdtempSync(join(tmpdir(), 'tessera-kit-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'rs-1', alg: 'ES256', use: 'sig' }] }));
  const resourceServer = await tessera(server, ['client', 'create', '--name', 'resource server', '--jwks', jwksFile, '--introspect']);
  const clientId = resourceServer.client_id as string;
  t.equal(resourceServer.client_secret, undefined, 'a client with keys has no secret');

  const jwtClient = await registerClient(server.tessera, { tokenFormat: 'jwt' });
  const opaqueClient = await registerClient(server.tessera);
  const verifier = verifierFor(t, { issuer, introspection: { clientId, privateKey: keys.privateKey, kid: 'rs-1' } });

  const opaque = await accessToken(server, opaqueClient);
  t.equal((await verifier.verify(opaque)).client_id, opaqueClient.id, 'an opaque token, introspected with an assertion');
  const jwt = await accessToken(server, jwtClient);
  t.notOk(await refused(verifier, jwt));
  await postForm(`${issuer}/revoke`, { token: jwt }, { id: jwtClient.id, secret: jwtClient.secret! });
  t.ok(await within(1000, () => refused(verifier, jwt)), 'the stream, opened with POST and an assertion, works');
});
