// The example resource servers (examples/*/server.mjs), each run as its own process against a real
// Tessera, as their READMEs run them: a public route, one that needs a token, one that needs `write`.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { registerClient } from './helpers/harness.ts';
import { freePort } from './helpers/server-process.ts';
import { accessToken, listeningTessera, within } from './helpers/verify-kit.ts';

const API = 'https://notes.example.com';

t.test('the example resource servers', async (t) => {
  const server = await listeningTessera(t);
  const resourceServer = await registerClient(server.tessera, { introspect: true });
  const jwtApp = await registerClient(server.tessera, { tokenFormat: 'jwt', scopes: ['read', 'write'], audience: API });
  const opaqueApp = await registerClient(server.tessera, { scopes: ['read', 'write'], audience: API });
  const elsewhere = await registerClient(server.tessera, {
    tokenFormat: 'jwt',
    scopes: ['write'],
    audience: 'https://elsewhere.example.com',
  });

  for (const example of ['fastify-resource-server', 'express-resource-server']) {
    t.test(example, async (t) => {
      const port = await freePort();
      const child = spawn(process.execPath, [fileURLToPath(new URL(`../examples/${example}/server.mjs`, import.meta.url))], {
        env: {
          ...process.env,
          TESSERA_ISSUER: server.issuer,
          CLIENT_ID: resourceServer.id,
          CLIENT_SECRET: resourceServer.secret!,
          AUDIENCE: API,
          PORT: String(port),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      t.teardown(async () => {
        child.kill('SIGKILL');
        await exited;
      });
      const base = `http://127.0.0.1:${port}`;
      const call = (path: string, token?: string, method = 'GET') =>
        fetch(`${base}${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
      const up = await within(20_000, () =>
        call('/').then(
          (r) => r.ok,
          () => false,
        ),
      );
      if (!up) throw new Error(`${example} did not answer within 20 s: ${stderr}`);

      t.same(await (await call('/')).json(), { hello: 'anyone' }, 'the public route: 200 without a token');
      const none = await call('/me');
      t.equal(none.status, 401, 'no token: 401');
      t.equal(none.headers.get('www-authenticate'), 'Bearer');
      t.same(await none.json(), { error: 'invalid_request', error_description: 'No access token' });

      for (const [format, app] of [
        ['JWT', jwtApp],
        ['opaque', opaqueApp],
      ] as const) {
        const read = await accessToken(server, app, 'read');
        const write = await accessToken(server, app, 'read write');
        const me = await call('/me', read);
        t.equal(me.status, 200, `${format}: a valid token, 200`);
        t.same(await me.json(), { sub: app.id, client_id: app.id, scope: ['read'] });
        const forbidden = await call('/notes', read, 'POST');
        t.equal(forbidden.status, 403, `${format}: without write, 403`);
        t.match(forbidden.headers.get('www-authenticate'), /^Bearer error="insufficient_scope", .*scope="write"$/);
        t.equal(((await forbidden.json()) as { error: string }).error, 'insufficient_scope');
        const saved = await call('/notes', write, 'POST');
        t.equal(saved.status, 200, `${format}: with write, 200`);
        t.same(await saved.json(), { saved: true, by: app.id });
      }

      const foreign = await call('/notes', await accessToken(server, elsewhere), 'POST');
      t.equal(foreign.status, 401, 'a token for another audience: 401');
      t.match(foreign.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
    });
  }
});
