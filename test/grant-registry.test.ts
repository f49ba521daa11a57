// The grant registry (src/oauth/grants/) is the one list of grants: registration, the token
// endpoint and discovery all follow it, and each endpoint reads only the parameters it declares.
import t from 'tap';
import { GRANTS, findGrant } from '../src/oauth/grants/index.ts';
import { TOKEN_PARAMETERS } from '../src/oauth/token-request.ts';
import { post, registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';

t.test('every grant declares itself once', async (t) => {
  const names = GRANTS.map((grant) => grant.name);
  t.same([...new Set(names)], names, 'names are unique');
  for (const grant of GRANTS) {
    t.equal(findGrant(grant.name), grant, `${grant.name} is found by name`);
    const clash = grant.parameters.filter((p) => (TOKEN_PARAMETERS as readonly string[]).includes(p));
    t.same(clash, [], `${grant.name} declares no parameter of the token endpoint itself`);
  }
  t.equal(findGrant('implicit'), undefined, 'an unknown grant is not found');
  t.equal(findGrant('toString'), undefined, 'nor a name from the prototype');
});

t.test('registration, the token endpoint and discovery follow the registry', async (t) => {
  const { app, tessera } = await startTessera(t);
  for (const grant of GRANTS) {
    const registration = {
      grants: [grant.name],
      public: grant.rules.publicClientAllowed,
      redirectUris: grant.rules.needsRedirectUri ? ['https://app.example/cb'] : [],
    };
    const { client } = await tessera.clients.register({ name: grant.name, ...registration });
    t.ok(client.grants.includes(grant.name), `a client can be registered for ${grant.name}`);
    t.equal(
      client.grants.includes('refresh_token'),
      grant.rules.issuesRefreshToken,
      `${grant.name}: refresh_token follows issuesRefreshToken`,
    );
  }
  const doc = JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).body) as {
    grant_types_supported: string[];
  };
  t.same(
    doc.grant_types_supported,
    GRANTS.map((grant) => grant.name),
    'with a client for each, every grant is advertised',
  );

  const unknown = await tokenRequest(app, await registerClient(tessera), { grant_type: 'urn:example:unknown' });
  t.equal(unknown.statusCode, 400);
  t.equal(unknown.body_.error, 'unsupported_grant_type');
});

t.test('each endpoint reads only the parameters it declares', async (t) => {
  const { app, tessera } = await startTessera(t);
  const client = await registerClient(tessera, { grants: ['client_credentials', 'password'], scopes: ['read'] });
  const { username, password } = await registerUser(tessera);

  // Another grant's parameters, and names nobody declares, are dropped at the edge.
  const cc = await tokenRequest(app, client, { grant_type: 'client_credentials', username, password, code: 'x', foo: 'bar' });
  t.equal(cc.statusCode, 200);
  t.notOk('refresh_token' in cc.body_, 'client_credentials stays client_credentials');
  const introspected = await post(
    app,
    '/introspect',
    { token: cc.body_.access_token as string, extra: 'ignored' },
    {
      headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret!}`).toString('base64')}` },
    },
  );
  t.equal(introspected.body_.active, true, 'an undeclared parameter does not disturb introspection');

  // RFC 6749 §3.1 still holds for every name: a repeated parameter is refused even when undeclared.
  const repeated = await post(app, '/token', {
    grant_type: 'client_credentials',
    client_id: client.id,
    client_secret: client.secret!,
    foo: ['a', 'b'],
  });
  t.equal(repeated.statusCode, 400);
  t.equal(repeated.body_.error, 'invalid_request');
});
