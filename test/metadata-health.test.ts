// The discovery documents and the health endpoints.
import t from 'tap';
import * as oidc from 'openid-client';
import { ISSUER, registerClient, startTessera } from './helpers/harness.ts';
import { listeningTessera } from './helpers/verify-kit.ts';

t.test('metadata, JWKS and health', async (t) => {
  const { app, tessera } = await startTessera(t);
  await registerClient(tessera, { scopes: ['read', 'write'] });

  const meta = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
  t.equal(meta.statusCode, 200);
  const doc = JSON.parse(meta.body);
  t.match(doc, {
    issuer: ISSUER,
    token_endpoint: `${ISSUER}/token`,
    authorization_endpoint: `${ISSUER}/authorize`,
    introspection_endpoint: `${ISSUER}/introspect`,
    revocation_endpoint: `${ISSUER}/revoke`,
    jwks_uri: `${ISSUER}/.well-known/jwks.json`,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
  });
  t.same(doc.scopes_supported, ['openid', 'read', 'write'], 'openid, and every registered scope');
  t.same(
    doc.grant_types_supported,
    ['authorization_code', 'client_credentials', 'refresh_token'],
    'password is not advertised while no client uses it',
  );
  await registerClient(tessera, { grants: ['password'] });
  const again = JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).body);
  t.ok(again.grant_types_supported.includes('password'));

  const jwks = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  t.equal(jwks.statusCode, 200);
  t.match(jwks.headers['content-type'], /application\/jwk-set\+json/);
  const { keys } = JSON.parse(jwks.body);
  t.equal(keys.length, 1);
  t.match(keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: String, x: String, y: String });
  t.notOk('d' in keys[0], 'no private part');

  t.same(JSON.parse((await app.inject({ method: 'GET', url: '/healthz' })).body), { status: 'ok' });
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 200);
  t.same(JSON.parse(ready.body), { status: 'ready' });
});

t.test('OpenID Connect discovery: the same document at both addresses', async (t) => {
  const { app, tessera, issuer } = await listeningTessera(t);
  await registerClient(tessera, { scopes: ['openid', 'profile', 'email', 'read'] });
  const oauth = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
  const openid = await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
  t.equal(openid.statusCode, 200);
  t.equal(openid.body, oauth.body, 'byte for byte the same document');
  for (const res of [oauth, openid]) t.equal(res.headers['cache-control'], 'public, max-age=60', 'cacheable as before');
  const doc = JSON.parse(openid.body);
  t.match(doc, {
    issuer,
    userinfo_endpoint: `${issuer}/userinfo`,
    end_session_endpoint: `${issuer}/logout`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
  });
  t.same(doc.scopes_supported, ['email', 'openid', 'profile', 'read']);
  for (const claim of [
    'sub',
    'auth_time',
    'nonce',
    'at_hash',
    'sid',
    'preferred_username',
    'name',
    'email',
    'email_verified',
    'roles',
    'groups',
  ])
    t.ok(doc.claims_supported.includes(claim), `claims_supported: ${claim}`);
  // A relying party reads it from /.well-known/openid-configuration and checks it (Discovery 1.0 §4.3: the issuer).
  const config = await oidc.discovery(new URL(issuer), 'a-client', undefined, undefined, { execute: [oidc.allowInsecureRequests] });
  t.same(config.serverMetadata(), doc, 'openid-client accepts the OpenID Connect document');
  const viaOAuth = await oidc.discovery(new URL(issuer), 'a-client', undefined, undefined, {
    algorithm: 'oauth2',
    execute: [oidc.allowInsecureRequests],
  });
  t.same(viaOAuth.serverMetadata(), doc, 'and the RFC 8414 one');
  const documented = JSON.parse((await app.inject({ method: 'GET', url: '/openapi.json' })).body);
  t.ok(documented.paths['/.well-known/openid-configuration']?.get, 'in /openapi.json');
});

t.test('metrics', async (t) => {
  const { app, admin, tessera } = await startTessera(t);
  const client = await registerClient(tessera, { tokenFormat: 'jwt' });
  const auth = { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` };
  await app.inject({
    method: 'POST',
    url: '/token',
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=client_credentials',
  });
  await app.inject({ method: 'GET', url: '/no/such/path' });
  const res = await admin.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /text\/plain/);
  t.match(res.body, /tessera_http_requests_total\{route="\/token",method="POST",status="200"\} 1/);
  t.match(res.body, /tessera_http_requests_total\{route="unmatched",method="GET",status="404"\} 1/, 'unknown paths share one label');
  t.match(res.body, /tessera_http_request_duration_seconds_bucket\{le="0.005",route="\/token",method="POST"\}/);
  t.match(res.body, /tessera_tokens_issued_total\{grant="client_credentials",format="jwt"\} 1/);
  t.match(res.body, /tessera_process_resident_memory_bytes/);
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'not on the public listener');
});
