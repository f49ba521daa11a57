// The OpenAPI documents (/openapi.json on the public listener, /admin/openapi.json on the admin
// listener) and the page that renders the public one (/docs): each document is valid OpenAPI 3.1,
// every route of its app is in it and nothing else is, neither leaks into the other listener, and
// the page works in a real browser with nothing loaded from anywhere but this server.
import t, { type Test } from 'tap';
import { subscribe } from 'node:diagnostics_channel';
import type { FastifyInstance } from 'fastify';
import { Validator } from '@seriousme/openapi-schema-validator';
import { chromiumSkip, launchChromium } from './helpers/browser.ts';
import { startTessera } from './helpers/harness.ts';
import { freePort } from './helpers/server-process.ts';

// ── Every route each app has ─────────────────────────────────────────────────────────────────
/**
 * The app's routes as its router holds them, from printRoutes()'s tree: each line is a node, its
 * label the next part of the path (its depth the indentation, four columns a level), and the
 * methods of the route that ends there in parentheses.
 */
function routerRoutes(app: FastifyInstance): Route[] {
  const routes: Route[] = [];
  const labels: string[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const node = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!node) continue;
    const depth = node[1]!.length / 4;
    labels.length = depth;
    labels.push(node[2]!);
    for (const method of node[3]?.split(', ') ?? []) routes.push({ method, url: labels.join('') });
  }
  return routes;
}

// A check of that parse: Fastify announces each new instance on this channel before anything is
// registered on it, so an onRoute hook added here sees the routes of the apps startTessera builds
// (plugins' included) as they are added, with nothing in src/ for the test. Each must be among
// the router's. (Copied at once: Fastify rewrites the url of a route's options object after the hooks ran.)
type Route = { method: string; url: string };
const announced = new WeakMap<FastifyInstance, Route[]>();
subscribe('fastify.initialization', (message) => {
  const { fastify } = message as { fastify: FastifyInstance };
  const routes: Route[] = [];
  announced.set(fastify, routes);
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method: String(method), url: route.url });
  });
});

/** "GET /register/{client_id}": Fastify's `:param` as OpenAPI's `{param}`. */
const operation = (method: string, url: string) => `${method.toUpperCase()} ${url.replace(/:(\w+)/g, '{$1}')}`;

/**
 * The operations an app's document must hold: every route of its router but
 * - HEAD, which Fastify adds for every GET by itself (the document describes the GET);
 * - /docs/static/…: the files of the swagger-ui package the page loads (scripts, styles, images,
 *   a redirect from its own index.html), not API; @fastify/swagger-ui hides them;
 * - /docs/: the same page as /docs (only its asset URLs are relative). Fastify registers a prefix's
 *   '/' route under both URLs from one options object, runs the onRoute hooks (@fastify/swagger's)
 *   for /docs only, and then rewrites that object's url to /docs/: the document cannot hold both,
 *   and src/http/openapi.ts describes the page once, at /docs.
 */
function expectedOperations(t: Test, app: FastifyInstance, name: string): Set<string> {
  const routes = routerRoutes(app);
  const seen = announced.get(app);
  if (!seen) throw new Error(`the ${name} app was not seen being built`);
  const inRouter = new Set(routes.map(({ method, url }) => operation(method, url)));
  t.same(
    seen.map(({ method, url }) => operation(method, url)).filter((op) => !inRouter.has(op)),
    [],
    `every route added to the ${name} app is in its router's list (the list is read right)`,
  );
  return new Set(
    routes
      .filter(({ method, url }) => method !== 'HEAD' && !url.startsWith('/docs/static/') && url !== '/docs/')
      .map(({ method, url }) => operation(method, url)),
  );
}

type Operation = { tags?: string[]; summary?: string; security?: Record<string, string[]>[]; requestBody?: { content: object } } & Record<
  string,
  unknown
>;
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  tags?: { name: string }[];
  components?: { securitySchemes?: Record<string, unknown> };
};
const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

function documentedOperations(doc: Document): Map<string, Operation> {
  const operations = new Map<string, Operation>();
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) if (METHODS.has(method)) operations.set(operation(method, path), op);
  return operations;
}

async function fetchDocument(t: Test, app: FastifyInstance, url: string): Promise<Document> {
  const response = await app.inject({ method: 'GET', url });
  t.equal(response.statusCode, 200, `${url} answers`);
  t.match(response.headers['content-type'], /^application\/json/, `${url} is JSON`);
  return response.json<Document>();
}

async function assertValid(t: Test, doc: Document, name: string) {
  t.equal(doc.openapi, '3.1.0', `${name} is OpenAPI 3.1`);
  const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
  t.ok(result.valid, `${name} is a valid OpenAPI 3.1 document`, { errors: result.errors });
}

/** The document has exactly the app's operations, each tagged (with a declared tag), summarised, and secured by declared schemes only. */
function assertCoversApp(t: Test, doc: Document, app: FastifyInstance, name: string) {
  const expected = expectedOperations(t, app, name);
  const documented = documentedOperations(doc);
  t.same(
    [...expected].filter((op) => !documented.has(op)),
    [],
    `every route of the ${name} app is in its document`,
  );
  t.same(
    [...documented.keys()].filter((op) => !expected.has(op)),
    [],
    `the ${name} document has no operation the app lacks`,
  );
  const tags = new Set((doc.tags ?? []).map((tag) => tag.name));
  const schemes = new Set(Object.keys(doc.components?.securitySchemes ?? {}));
  for (const [op, spec] of documented) {
    t.ok(spec.summary, `${op} has a summary`);
    t.ok(spec.tags?.length && spec.tags.every((tag) => tags.has(tag)), `${op} has declared tags`, { tags: spec.tags });
    for (const requirement of spec.security ?? [])
      for (const scheme of Object.keys(requirement)) t.ok(schemes.has(scheme), `${op}: security scheme ${scheme} is declared`);
  }
  return documented;
}

t.test('the public and admin OpenAPI documents', async (t) => {
  const { app, admin } = await startTessera(t);
  const publicDoc = await fetchDocument(t, app, '/openapi.json');
  const adminDoc = await fetchDocument(t, admin, '/admin/openapi.json');

  // The validator itself can say no: a document without `info` is not OpenAPI.
  const { info: _info, ...broken } = publicDoc as Document & { info: unknown };
  t.notOk((await new Validator().validate(broken)).valid, 'the validator refuses a broken document');
  await assertValid(t, publicDoc, 'the public document');
  await assertValid(t, adminDoc, 'the admin document');

  // The routes were read (else the coverage below would prove nothing).
  t.ok(
    routerRoutes(app).some((r) => r.method === 'POST' && r.url === '/token'),
    'the public routes were read',
  );
  t.ok(
    routerRoutes(admin).some((r) => r.method === 'PATCH' && r.url === '/admin/v1/clients/:client_id'),
    'the admin routes were read',
  );
  t.ok(
    routerRoutes(app).some((r) => r.url === '/docs/static/*'),
    'the wildcard routes too',
  );
  const publicOps = assertCoversApp(t, publicDoc, app, 'public');
  assertCoversApp(t, adminDoc, admin, 'admin');

  // Each listener serves its own document only, and neither describes the other's routes.
  t.equal((await app.inject('/admin/openapi.json')).statusCode, 404, 'the public listener does not serve the admin document');
  t.equal((await app.inject('/admin/v1')).statusCode, 404, 'nor the admin API');
  t.same(
    Object.keys(publicDoc.paths).filter((path) => path.startsWith('/admin') || path === '/metrics'),
    [],
    'the public document has no admin paths',
  );
  t.equal((await admin.inject('/openapi.json')).statusCode, 404, 'the admin listener does not serve the public document');
  t.equal((await admin.inject('/docs')).statusCode, 404, 'nor the page');
  t.same(
    Object.keys(adminDoc.paths).filter((path) => !path.startsWith('/admin/') && path !== '/metrics'),
    [],
    'the admin document describes the admin listener only',
  );

  // The endpoints that read their own parameters say so: both body types, the RFC error shape.
  for (const op of ['POST /token', 'POST /token/refresh', 'POST /token/logout', 'POST /token/verify', 'POST /introspect', 'POST /revoke']) {
    const spec = publicOps.get(op)!;
    t.same(
      Object.keys(spec.requestBody?.content ?? {}).sort(),
      ['application/json', 'application/x-www-form-urlencoded'],
      `${op} takes a form or JSON`,
    );
    const responses = spec.responses as Record<string, { content?: Record<string, { schema: { properties?: object } }> }>;
    for (const status of ['400', '401', '413', '503']) {
      t.match(
        responses[status]?.content?.['application/json']?.schema.properties,
        { error: { type: 'string' }, error_description: { type: 'string' } },
        `${op} ${status}: {error, error_description}`,
      );
    }
  }
  const tokenErrors = (publicOps.get('POST /token')!.responses as Record<string, { content: Record<string, { schema: object }> }>)['400']!
    .content['application/json']!.schema;
  t.match(
    tokenErrors,
    {
      properties: {
        error: { enum: ['invalid_request', 'invalid_grant', 'invalid_scope', 'unauthorized_client', 'unsupported_grant_type'] },
      },
    },
    "the token endpoint's 400 codes are RFC 6749 §5.2's",
  );
  t.ok(publicOps.get('GET /docs'), 'the page itself is documented');
});

t.test('the public schemas only document: the endpoints still read their input themselves', async (t) => {
  const { app } = await startTessera(t);
  // With Fastify's validator, `required: ['grant_type']` would answer this with its own 400.
  const noGrant = await app.inject({ method: 'POST', url: '/token', payload: {} });
  t.equal(noGrant.statusCode, 401, 'a body without grant_type reaches the endpoint');
  t.same(noGrant.json(), { error: 'invalid_client', error_description: 'Invalid client: client authentication failed' });
  // And would coerce a number to the string the schema asks for.
  const number = await app.inject({ method: 'POST', url: '/token/verify', payload: { token: 12345 } });
  t.equal(number.statusCode, 400);
  t.same(number.json(), { error: 'invalid_request', error_description: 'Invalid request: parameter `token` must be a string' });
  const query = await app.inject({ method: 'GET', url: '/authorize?client_id=a&client_id=b' });
  t.equal(query.statusCode, 400, 'a repeated query parameter is refused by the endpoint, as before');
  t.match(query.headers['content-type'], /^text\/html/, 'on its own error page');
});

t.test('GET /docs: the page and everything it loads come from this server', async (t) => {
  const { app } = await startTessera(t);
  let url = '/docs';
  let response = await app.inject({ method: 'GET', url });
  for (let hops = 0; response.statusCode >= 300 && response.statusCode < 400 && hops < 5; hops++) {
    url = new URL(String(response.headers.location), `http://localhost${url}`).pathname;
    response = await app.inject({ method: 'GET', url });
  }
  t.equal(response.statusCode, 200, 'the page answers (after any redirect)');
  t.match(response.headers['content-type'], /^text\/html/, 'as HTML');
  const csp = String(response.headers['content-security-policy']);
  t.match(csp, /default-src 'self'/, 'its Content-Security-Policy allows this server');
  t.notMatch(csp, /https?:|\*|swagger\.io/, 'and no other');
  const html = response.body;
  t.notMatch(html, /\bhttps?:\/\//i, 'the page names no http(s) URL');
  const references = [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!);
  t.ok(
    references.some((ref) => ref.endsWith('swagger-ui-bundle.js')),
    'it loads the swagger-ui bundle',
  );
  for (const ref of references) {
    const resolved = new URL(ref, `http://tessera.invalid${url}`);
    t.equal(resolved.host, 'tessera.invalid', `${ref} is on this server`);
    const asset = await app.inject({ method: 'GET', url: resolved.pathname });
    t.equal(asset.statusCode, 200, `${resolved.pathname} is served`);
  }
  const feed = await app.inject('/docs/json');
  t.same(feed.json(), (await app.inject('/openapi.json')).json(), 'the page renders /openapi.json');
});

t.test('GET /docs renders the API in Chromium, offline', { skip: chromiumSkip() }, async (t) => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const { app } = await startTessera(t, { env: { TESSERA_ISSUER: origin } });
  await app.listen({ port, host: '127.0.0.1' });
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  // Every request the page makes passes here; one to anywhere but this server is refused and noted.
  const local: string[] = [];
  const outside: string[] = [];
  await page.route('**/*', async (route) => {
    const requested = route.request().url();
    if (new URL(requested).origin === origin || requested.startsWith('data:')) {
      local.push(new URL(requested).pathname);
      await route.continue();
    } else {
      outside.push(requested);
      await route.abort('blockedbyclient');
    }
  });
  // Script errors, and console errors (where the browser reports what the page's CSP refused).
  const scriptErrors: string[] = [];
  page.on('pageerror', (error) => scriptErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') scriptErrors.push(message.text());
  });

  await page.goto(`${origin}/docs`);
  // swagger-ui renders each operation with its path; /token is among them once the document loaded.
  await page.locator('.opblock-summary-path[data-path="/token"]').first().waitFor({ timeout: 30_000 });
  t.ok(await page.locator('.opblock-summary-path[data-path="/introspect"]').count(), 'the operations are listed');
  t.ok(await page.getByText('Token endpoint (RFC 6749 §3.2): every grant').count(), 'with their summaries');
  t.same(outside, [], 'no request left 127.0.0.1');
  t.same(scriptErrors, [], 'no script error, nothing refused');
  t.ok(local.includes('/docs/static/swagger-ui-bundle.js'), 'the bundle came from this server');
  t.ok(local.includes('/docs/json'), 'and the document');
});
