// Two Tessera instances on one database, as behind a load balancer: the kit is connected to one
// (its issuer URL reaches that one), the revocations happen on the other, and the kit refuses the
// revoked tokens within a second all the same — the stream carries every instance's revocations.
import t from 'tap';
import { TokenError, type Verifier } from '@tessera/verify';
import { basic, post, registerClient, startTessera } from './helpers/harness.ts';
import { freePort } from './helpers/server-process.ts';
import { accessToken, rejection, verifierFor, within } from './helpers/verify-kit.ts';

const refused = async (verifier: Verifier, token: string) => (await rejection(verifier.verify(token))) instanceof TokenError;

t.test('a revocation on one instance: the kit connected to the other refuses the token within 1 s', async (t) => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const connected = await startTessera(t, { env: { TESSERA_ISSUER: issuer } });
  await connected.app.listen({ port, host: '127.0.0.1' });
  t.teardown(() => connected.app.server.closeAllConnections());
  const other = await startTessera(t, { db: connected.db, env: { TESSERA_ISSUER: issuer } });

  const jwtClient = await registerClient(other.tessera, { tokenFormat: 'jwt' });
  const opaqueClient = await registerClient(other.tessera);
  const resourceServer = await registerClient(other.tessera, { introspect: true });
  const verifier = verifierFor(t, { issuer, introspection: { clientId: resourceServer.id, clientSecret: resourceServer.secret! } });
  const revokeOnOther = async (client: { id: string; secret?: string }, token: string) =>
    post(other.app, '/revoke', { token }, { headers: { authorization: basic(client.id, client.secret!) } });

  for (const [what, client] of [
    ['a JWT', jwtClient],
    ['an opaque token', opaqueClient],
  ] as const) {
    const token = await accessToken(other, client);
    t.match(await verifier.verify(token), { client_id: client.id }, `${what} issued by the other instance verifies`);
    t.equal((await revokeOnOther(client, token)).statusCode, 200);
    t.ok(await within(1000, () => refused(verifier, token)), `${what} revoked on the other instance: refused within 1 s`);
  }

  const unseen = await accessToken(other, jwtClient);
  await revokeOnOther(jwtClient, unseen);
  t.ok(await within(1000, () => refused(verifier, unseen)), 'a JWT revoked before the kit ever saw it: refused within 1 s');
});
