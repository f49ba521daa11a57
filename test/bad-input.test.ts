// Malformed requests get a 4xx with an RFC error code and no stack trace; the server keeps serving.
import t from 'tap';
import { basic, post, registerClient, startTessera, tokenRequest } from './helpers/harness.ts';

t.test('bad input never breaks the server', async (t) => {
  const { app, tessera } = await startTessera(t);
  const client = await registerClient(tessera, { scopes: ['read'] });
  const auth = { authorization: basic(client.id, client.secret!) };

  const raw = (payload: string | Buffer, headers: Record<string, string>, url = '/token') =>
    app.inject({ method: 'POST', url, payload, headers: { ...auth, ...headers } });

  const cases: [string, () => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>, number, string][] = [
    ['wrong content type', () => raw('grant_type=client_credentials', { 'content-type': 'text/plain' }), 400, 'invalid_request'],
    ['xml', () => raw('<grant_type/>', { 'content-type': 'application/xml' }), 400, 'invalid_request'],
    ['invalid JSON', () => raw('{"grant_type": ', { 'content-type': 'application/json' }), 400, 'invalid_request'],
    ['JSON array', () => raw('["client_credentials"]', { 'content-type': 'application/json' }), 400, 'invalid_request'],
    ['JSON number value', () => raw('{"grant_type": 5}', { 'content-type': 'application/json' }), 400, 'invalid_request'],
    ['JSON object value', () => raw('{"grant_type": {"a": 1}}', { 'content-type': 'application/json' }), 400, 'invalid_request'],
    [
      'JSON __proto__',
      () => raw('{"__proto__": {"x": 1}, "grant_type": "client_credentials"}', { 'content-type': 'application/json' }),
      400,
      'invalid_request',
    ],
    [
      'repeated parameter',
      () => raw('grant_type=client_credentials&grant_type=password', { 'content-type': 'application/x-www-form-urlencoded' }),
      400,
      'invalid_request',
    ],
    [
      'repeated scope',
      () => raw('grant_type=client_credentials&scope=read&scope=read', { 'content-type': 'application/x-www-form-urlencoded' }),
      400,
      'invalid_request',
    ],
    [
      'oversize body',
      () => raw(`grant_type=client_credentials&x=${'a'.repeat(20_000)}`, { 'content-type': 'application/x-www-form-urlencoded' }),
      413,
      'invalid_request',
    ],
    [
      'oversize field',
      () => raw(`grant_type=client_credentials&scope=${'a'.repeat(5000)}`, { 'content-type': 'application/x-www-form-urlencoded' }),
      400,
      'invalid_request',
    ],
    ['unknown grant', () => raw('grant_type=foo', { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'unsupported_grant_type'],
    [
      'grant type with odd characters',
      () => raw('grant_type=%00%01', { 'content-type': 'application/x-www-form-urlencoded' }),
      400,
      'invalid_request',
    ],
    [
      'invalid scope characters',
      () => raw('grant_type=client_credentials&scope=%22read%22', { 'content-type': 'application/x-www-form-urlencoded' }),
      400,
      'invalid_scope',
    ],
    [
      'garbage Basic header',
      () =>
        raw('grant_type=client_credentials', { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic !!!not-base64' }),
      401,
      'invalid_client',
    ],
    [
      'Basic without colon',
      () =>
        raw('grant_type=client_credentials', {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from('nocolon').toString('base64')}`,
        }),
      401,
      'invalid_client',
    ],
    [
      'Basic with bad percent-encoding',
      () =>
        raw('grant_type=client_credentials', {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from('%zz:%zz').toString('base64')}`,
        }),
      401,
      'invalid_client',
    ],
    [
      'two client authentication methods',
      () =>
        raw(`grant_type=client_credentials&client_id=${client.id}&client_secret=${client.secret}`, {
          'content-type': 'application/x-www-form-urlencoded',
        }),
      400,
      'invalid_request',
    ],
    [
      'secret without client_id',
      () =>
        app.inject({
          method: 'POST',
          url: '/token',
          payload: 'grant_type=client_credentials&client_secret=x',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      400,
      'invalid_request',
    ],
    ['empty body', () => raw('', { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'invalid_request'],
    ['empty JSON body', () => raw('', { 'content-type': 'application/json' }), 400, 'invalid_request'],
    ['introspect with garbage JSON', () => raw('{{{', { 'content-type': 'application/json' }, '/introspect'), 400, 'invalid_request'],
    [
      'revoke with repeated token',
      () => raw('token=a&token=b', { 'content-type': 'application/x-www-form-urlencoded' }, '/revoke'),
      400,
      'invalid_request',
    ],
  ];

  for (const [name, send, status, error] of cases) {
    const res = await send();
    t.equal(res.statusCode, status, `${name}: status`);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    t.equal(body.error, error, `${name}: error code`);
    t.type(body.error_description, 'string', `${name}: described`);
    t.notMatch(res.body, /\bat .+:\d+:\d+|node_modules|Error:/, `${name}: no stack trace`);
  }

  const unknownRoute = await app.inject({ method: 'GET', url: '/nope' });
  t.equal(unknownRoute.statusCode, 404);
  t.equal(JSON.parse(unknownRoute.body).error, 'not_found');

  const still = await tokenRequest(app, client, { grant_type: 'client_credentials' });
  t.equal(still.statusCode, 200, 'after all that, a good request still works');
  const json = await post(
    app,
    '/token',
    { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret! },
    { json: true },
  );
  t.equal(json.statusCode, 200);
});
