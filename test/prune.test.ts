// Expired and long-revoked rows leave the database: in the background, and on demand.
import t from 'tap';
import { registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';

t.test('pruning', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera);
  const client = await registerClient(tessera, { grants: ['password', 'client_credentials'], accessTtl: 60, refreshTtl: 120 });
  const jwt = await registerClient(tessera, { grants: ['client_credentials'], tokenFormat: 'jwt', accessTtl: 60 });
  for (let i = 0; i < 3; i++) await tokenRequest(app, client, { grant_type: 'password', username, password });
  await tokenRequest(app, client, { grant_type: 'client_credentials' });
  const revokedJwt = (await tokenRequest(app, jwt, { grant_type: 'client_credentials' })).body_.access_token as string;
  await tessera.revocation.revoke(revokedJwt, jwt.id);
  const fresh = await registerClient(tessera, { grants: ['client_credentials'], accessTtl: 86_400 });
  const kept = (await tokenRequest(app, fresh, { grant_type: 'client_credentials' })).body_.access_token as string;

  /** What a pass that finds nothing to remove reports. */
  const nothing = {
    accessTokens: 0,
    refreshTokens: 0,
    grants: 0,
    revokedJwts: 0,
    codes: 0,
    changeEvents: 0,
    signingKeys: 0,
    loginThrottles: 0,
    usedAssertions: 0,
    revocations: 0,
    auditEntries: 0,
    initialAccessTokens: 0,
    sessions: 0,
  };
  const early = await tessera.store.prune(new Date());
  t.same(early, nothing, 'nothing is pruned before it expires');

  // Prune as of ten minutes from now, when all but `kept` have expired.
  const later = new Date(Date.now() + 600_000);
  const counts = await tessera.store.prune(later);
  t.equal(counts.accessTokens, 4, 'expired opaque access tokens');
  t.equal(counts.refreshTokens, 3, 'expired refresh tokens');
  t.equal(counts.grants, 3, 'expired grants');
  t.equal(counts.revokedJwts, 1, 'revocation records of expired JWTs');
  t.same(await tessera.store.prune(later), nothing, 'a second pass finds nothing');
  t.ok(await tessera.inspector.activeAccessToken(kept), 'an unexpired token is kept');
  t.equal((await tessera.store.prune(later)).signingKeys, 0, 'the signing key is never pruned');
});

t.test('pruning runs in the background', async (t) => {
  const { app, tessera } = await startTessera(t, { env: { TESSERA_PRUNE_INTERVAL_MS: '200' } });
  const client = await registerClient(tessera, { accessTtl: 1 });
  await tokenRequest(app, client, { grant_type: 'client_credentials' });
  await new Promise((r) => setTimeout(r, 1800));
  t.equal((await tessera.store.prune(new Date())).accessTokens, 0, 'the background pass removed the expired token already');
});

t.test('the audit log is kept for TESSERA_AUDIT_RETENTION_DAYS, initial access tokens until they expire', async (t) => {
  const { tessera } = await startTessera(t, { env: { TESSERA_AUDIT_RETENTION_DAYS: '2' } });
  await tessera.audit.record({ actor: 'cli:test', action: 'client.create', target: 'x' });
  await tessera.registrationTokens.createInitial({ ttl: 60 });
  const day = 86_400_000;
  t.match(
    await tessera.store.prune(new Date(Date.now() + day)),
    { auditEntries: 0, initialAccessTokens: 1 },
    'a day later: the token expired',
  );
  t.equal((await tessera.audit.page(10)).items.length, 1, 'the entry is still there');
  t.match(await tessera.store.prune(new Date(Date.now() + 3 * day)), { auditEntries: 1 }, 'past the retention: the entry goes');
  t.equal((await tessera.audit.page(10)).items.length, 0);
});
