// CORS (the Fetch standard) for the endpoints a web application calls from its own origin. A
// client's allowed origins are those of its redirect URIs plus its registered ones
// (browser-session.ts: allowedOrigins). A preflight from an origin some client allows is answered
// with the CORS headers; the request itself gets them only if its origin is allowed for the client
// it turned out to be (as the endpoint noted it: request-log.ts), so one client's origin never
// reads another client's answers. The public documents (metadata, JWKS) are readable by any page.
// An origin no client allows gets no CORS headers, and the browser keeps the answer from the page.
import type { FastifyInstance, FastifyReply, onSendHookHandler, RouteOptions } from 'fastify';
import type { Clients } from '../domain/clients.js';
import type { ClientRecord } from '../records.js';
import { allowedOrigins } from './browser-session.js';
import { notedClientId } from './request-log.js';

/** The endpoints a client calls, and their methods: credentialed CORS for the client's origins. */
const CLIENT_ENDPOINTS: Readonly<Record<string, string>> = {
  '/token': 'POST',
  '/token/refresh': 'POST',
  '/token/logout': 'POST',
  // No client authenticates here: the answer is for the origins of the token's own client.
  '/token/verify': 'POST',
  '/introspect': 'POST',
  '/revoke': 'POST',
  // The access token's client.
  '/userinfo': 'GET, POST',
};

/** Documents anyone may read, from any page: `Access-Control-Allow-Origin: *`, no credentials. */
const PUBLIC_DOCUMENTS: ReadonlySet<string> = new Set([
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/.well-known/jwks.json',
]);

const ALLOWED_HEADERS = 'Authorization, Content-Type, X-CSRF-Token';
/** How long a browser may keep a preflight's answer: two hours, the most Chromium keeps one. */
const MAX_AGE = '7200';

interface KnownOrigins {
  byClient: Map<string, Set<string>>;
  /** Every origin some client allows: what a preflight, which names no client, is answered for. */
  any: Set<string>;
}

function knownOrigins(clients: readonly ClientRecord[]): KnownOrigins {
  const byClient = new Map(clients.map((client) => [client.id, allowedOrigins(client)]));
  return { byClient, any: new Set([...byClient.values()].flatMap((origins) => [...origins])) };
}

/** The answer depends on the request's Origin: a cache must not hand it to another origin. */
function varyOnOrigin(reply: FastifyReply): void {
  const vary = reply.getHeader('vary');
  if (vary === undefined) reply.header('Vary', 'Origin');
  else if (!/(^|,)\s*origin\s*(,|$)/i.test(String(vary))) reply.header('Vary', `${String(vary)}, Origin`);
}

function allowCredentialed(reply: FastifyReply, origin: string): FastifyReply {
  return reply.header('Access-Control-Allow-Origin', origin).header('Access-Control-Allow-Credentials', 'true');
}

const preflightSchema = (path: string, methods: string, credentialed: boolean) => ({
  tags: ['meta'],
  summary: `CORS preflight for ${methods} ${path}`,
  description: credentialed
    ? 'From an origin some client allows (the origins of its redirect URIs and its registered ones): 204 with Access-Control-Allow-Origin (that origin), -Methods, -Headers (Authorization, Content-Type, X-CSRF-Token), -Credentials: true and -Max-Age. From any other origin: 204 without them. The request itself gets the CORS headers only if its origin is allowed for the client it authenticates as.'
    : 'Any origin may read this document: 204 with Access-Control-Allow-Origin: *.',
  security: [],
  response: {
    204: {
      description: 'The preflight answered',
      type: 'null',
      headers: {
        'Access-Control-Allow-Origin': { type: 'string' },
        'Access-Control-Allow-Methods': { type: 'string' },
        'Access-Control-Max-Age': { type: 'string' },
        ...(credentialed
          ? {
              'Access-Control-Allow-Headers': { type: 'string' },
              'Access-Control-Allow-Credentials': { type: 'string' },
              Vary: { type: 'string' },
            }
          : {}),
      },
    },
  },
});

/** Adds an onSend hook to one route's own (so that no other route pays for it). */
function addOnSend(route: RouteOptions, hook: onSendHookHandler): void {
  route.onSend = [...[route.onSend ?? []].flat(), hook];
}

/**
 * Answers the preflights and adds the CORS headers to the endpoints' answers. Must be registered
 * before those endpoints: it finds them as they are added (onRoute).
 */
export function registerCors(app: FastifyInstance, clients: Pick<Clients, 'derive'>): void {
  // Built once, and again only when a client changes (here or on another instance).
  const origins = clients.derive(knownOrigins);

  const clientAnswer: onSendHookHandler = (request, reply, payload, done) => {
    const origin = request.headers.origin;
    // Services (no Origin) pay for nothing more: /introspect and /token/verify are hot paths.
    if (origin === undefined) return done(null, payload);
    varyOnOrigin(reply);
    const clientId = notedClientId(request);
    if (clientId === null) return done(null, payload);
    origins().then(
      (known) => {
        if (known.byClient.get(clientId)?.has(origin)) allowCredentialed(reply, origin);
        done(null, payload);
      },
      // The answer is made already; without the client list it goes out without CORS headers
      // (the browser withholds it) rather than being turned into an error.
      () => done(null, payload),
    );
  };
  const publicAnswer: onSendHookHandler = (_request, reply, payload, done) => {
    // Always, Origin or not: a shared cache may keep this answer and hand it to a page.
    reply.header('Access-Control-Allow-Origin', '*');
    done(null, payload);
  };
  app.addHook('onRoute', (route) => {
    if ([route.method].flat().includes('OPTIONS')) return;
    if (Object.hasOwn(CLIENT_ENDPOINTS, route.url)) addOnSend(route, clientAnswer);
    else if (PUBLIC_DOCUMENTS.has(route.url)) addOnSend(route, publicAnswer);
  });

  for (const [path, methods] of Object.entries(CLIENT_ENDPOINTS)) {
    app.options(path, { schema: preflightSchema(path, methods, true) }, async (request, reply) => {
      varyOnOrigin(reply);
      const origin = request.headers.origin;
      const preflight = origin !== undefined && request.headers['access-control-request-method'] !== undefined;
      if (preflight && (await origins()).any.has(origin)) {
        allowCredentialed(reply, origin)
          .header('Access-Control-Allow-Methods', methods)
          .header('Access-Control-Allow-Headers', ALLOWED_HEADERS)
          .header('Access-Control-Max-Age', MAX_AGE);
      }
      return reply.code(204).send();
    });
  }
  for (const path of PUBLIC_DOCUMENTS) {
    app.options(path, { schema: preflightSchema(path, 'GET', false) }, async (_request, reply) =>
      reply
        .header('Access-Control-Allow-Origin', '*')
        .header('Access-Control-Allow-Methods', 'GET')
        .header('Access-Control-Max-Age', MAX_AGE)
        .code(204)
        .send(),
    );
  }
}
