// How long what a sign-in gave lives: the absolute lifetime of a refresh family (finding 16), and
// the end of everything a user holds when their password changes or they are deactivated
// (findings 9 and 10), codes included.
import t from 'tap';
import type { Tessera } from '../src/tessera.ts';
import { pkcePair } from './helpers/pkce.ts';
import { post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';

const REDIRECT = 'http://127.0.0.1:8080/callback';

t.test('a refresh family ends at its maximum session, however often it is refreshed', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const client = await registerClient(tessera, { grants: ['password'], refreshTtl: 3600, maxSession: 3, introspect: true });
  t.equal(client.client.maxSession, 3);
  const started = Date.now();
  const first = await tokenRequest(app, client, { grant_type: 'password', username, password });
  t.equal(first.statusCode, 200);
  const introspect = async (token: string) =>
    (
      await post(
        app,
        '/introspect',
        { token },
        { headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` } },
      )
    ).body_;
  const firstExp = (await introspect(first.body_.refresh_token as string)).exp as number;
  t.ok(firstExp * 1000 <= started + 3000 + 1000, `the first refresh token ends with the session, not in an hour (exp ${firstExp})`);
  await new Promise((r) => setTimeout(r, 1000));
  const second = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: first.body_.refresh_token as string });
  t.equal(second.statusCode, 200, 'refreshing inside the session works');
  const secondExp = (await introspect(second.body_.refresh_token as string)).exp as number;
  t.ok(secondExp <= firstExp, 'a rotation does not extend the session');
  await new Promise((r) => setTimeout(r, Math.max(0, firstExp * 1000 - Date.now()) + 1100));
  const late = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: second.body_.refresh_token as string });
  t.equal(late.statusCode, 400);
  t.equal(late.body_.error, 'invalid_grant', 'past the maximum session the family is over');
});

t.test('the default maximum session is 30 days, and it is validated', async (t) => {
  const { tessera } = await startTessera(t);
  t.equal((await registerClient(tessera)).client.maxSession, 30 * 86_400);
  await t.rejects(tessera.clients.register({ name: 'x', maxSession: 0 }), /--max-session/);
  await t.rejects(tessera.clients.register({ name: 'x', maxSession: 1.5 }), /--max-session/);
});

/** An authorization code for the user, issued as the sign-in page would, not yet exchanged. */
async function unusedCode(tessera: Tessera, clientId: string, userId: string) {
  const { verifier, challenge } = pkcePair();
  const code = await tessera.tokens.issueCode({
    clientId,
    userId,
    redirectUri: REDIRECT,
    scope: '',
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
  });
  return { code, verifier };
}

t.test("a password change ends the user's unused authorization codes", async (t) => {
  const { app, tessera } = await startTessera(t);
  const { user } = await registerUser(tessera, 'hana', 'hana password 12');
  const spa = await registerClient(tessera, { public: true, redirectUris: [REDIRECT] });
  const { code, verifier } = await unusedCode(tessera, spa.id, user.id);
  await tessera.users.setPassword('hana', 'hana password 34');
  const exchange = await tokenRequest(app, spa, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
  });
  t.equal(exchange.statusCode, 400);
  t.equal(exchange.body_.error, 'invalid_grant', 'the code issued before the change is dead');
});

t.test('deactivation ends unused codes too, and activation does not bring them back', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { user } = await registerUser(tessera, 'ida', 'ida password 123');
  const spa = await registerClient(tessera, { public: true, redirectUris: [REDIRECT] });
  const { code, verifier } = await unusedCode(tessera, spa.id, user.id);
  await tessera.users.setActive('ida', false);
  await tessera.users.setActive('ida', true);
  const exchange = await tokenRequest(app, spa, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
  });
  t.equal(exchange.body_.error, 'invalid_grant');
});
