// Builds the Fastify app from its parts: parsers, limits, error shape, and one file per endpoint.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import type { Config } from './config.js';
import type { Tessera } from './tessera.js';
import { clientErrorHandler, frameworkErrors, registerErrorHandling } from './http/errors.js';
import { registerStrictJson } from './http/json-body.js';
import { refuseMalformedQuery } from './http/params.js';
import { authorizeRoutes } from './http/authorize.js';
import { endSessionRoutes } from './http/end-session.js';
import { loadPages, stylesheetRoute } from './http/pages.js';
import { registerCors } from './http/cors.js';
import { healthRoutes } from './http/health.js';
import { introspectRoute } from './http/introspect.js';
import { jwksRoute } from './http/jwks.js';
import { logoutRoute } from './http/logout.js';
import { metadataRoute } from './http/metadata.js';
import { adminRoutes } from './http/admin/routes.js';
import { registerAdminValidation } from './http/admin/validation.js';
import { adminFrameworkErrors, registerProblemHandling } from './http/admin/problems.js';
import { registerDocsPage, registerOpenApi } from './http/openapi.js';
import { countRequests, metricsRoute } from './http/metrics.js';
import { cookiesMustBeSecure } from './http/browser-session.js';
import { parseForm } from './http/form.js';
import { Metrics, tesseraVersion } from './metrics.js';
import { refreshRoute } from './http/refresh.js';
import { registerRoutes } from './http/register.js';
import { registerRequestLog, requestId } from './http/request-log.js';
import { revocationsRoute } from './http/revocations.js';
import { revokeRoute } from './http/revoke.js';
import { tokenRoute } from './http/token.js';
import { userinfoRoute } from './http/userinfo.js';
import { verifyRoute } from './http/verify.js';

/** No legitimate request to this server comes near it; a larger one is refused with 413. */
export const BODY_LIMIT = 16 * 1024;
/** The admin API takes JWK Sets inline, so a little more. */
const ADMIN_BODY_LIMIT = 64 * 1024;

/**
 * How often Node looks for requests that overran their time limit; its default (30 s) would let a
 * trickling body live three times the 10-second limit.
 */
const TIMEOUT_CHECK_MS = 1000;

/**
 * Fastify takes addresses and ranges as they are, but now treats a bare hop count as "trust no
 * one"; a hop count is passed as the function it means: the nearest `hops` hops are proxies.
 */
function trustProxyOption(trusted: Config['trustProxy']): false | string[] | ((address: string, hop: number) => boolean) {
  return typeof trusted === 'number' ? (_address, hop) => hop < trusted : trusted;
}

/** The public listener: every OAuth endpoint. `metrics` counts its requests (served by the admin app). */
export async function buildApp(tessera: Tessera, metrics = new Metrics()): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: tessera.log as FastifyBaseLogger,
    // Fastify's own request lines log the URL, query string included: src/http/request-log.ts writes one instead.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: requestId,
    bodyLimit: BODY_LIMIT,
    trustProxy: trustProxyOption(tessera.config.trustProxy),
    requestTimeout: tessera.config.requestTimeoutMs,
    // Node 20 honours requestTimeout only when the server is constructed with it.
    http: { requestTimeout: tessera.config.requestTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    // Requests during shutdown and those Node's parser refuses get the usual error shape (http/errors.ts).
    return503OnClosing: false,
    clientErrorHandler,
    frameworkErrors,
    routerOptions: { querystringParser: parseForm },
  });
  registerRequestLog(app, tessera.config.logRequests);
  await app.register(formbody, { bodyLimit: BODY_LIMIT, parser: parseForm });
  registerStrictJson(app, BODY_LIMIT);
  await app.register(cookie);
  registerErrorHandling(app, tessera.store.outage);
  app.addHook('onRequest', refuseMalformedQuery);
  // Nothing the OAuth endpoints answer, success or error, may be cached (RFC 6749 §5.1).
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    if (request.method === 'POST') reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    done(null, payload);
  });
  countRequests(app, metrics);
  await registerOpenApi(app, {
    path: '/openapi.json',
    title: 'Tessera',
    description: 'OAuth 2.0 authorization server and token service: the public endpoints.',
    version: tesseraVersion(),
    server: tessera.config.issuer,
    securitySchemes: {
      clientBasic: { type: 'http', scheme: 'basic', description: 'client_secret_basic (RFC 6749 §2.3.1)' },
      bearer: { type: 'http', scheme: 'bearer', description: 'an access token (RFC 6750), or an RFC 7591/7592 token at /register' },
      drfToken: {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description: '`Token <key>`: the header Django REST framework clients send, at /token/verify only',
      },
    },
    tags: [
      { name: 'oauth', description: 'RFC 6749 and its extensions' },
      { name: 'tokens', description: 'verifying and revoking tokens' },
      { name: 'registration', description: 'RFC 7591/7592 dynamic client registration' },
      { name: 'meta', description: 'discovery, keys, health, this document' },
    ],
  });
  await registerDocsPage(app);
  // Each endpoint gets the services it uses, and nothing more.
  const { clients, users, tokens, inspector, revocation, keys, store } = tessera;
  // Before the endpoints: it adds its headers to theirs as they are registered.
  registerCors(app, clients);
  const issuer = tessera.config.issuer;
  const secureCookies = cookiesMustBeSecure(issuer);
  // The HTML pages (sign-in, consent, logout) get helmet's security headers (and their own CSP); the JSON API does not
  // need them, and computing them on every hot-path answer cost a fifth of introspection's time.
  // The pages' templates, read and compiled once: a broken TESSERA_TEMPLATES file stops the start here.
  const pages = loadPages(tessera.config);
  stylesheetRoute(app, pages.stylesheet);
  const { sessions, consents, idTokens } = tessera;
  await app.register(async (html) => {
    await html.register(helmet, { contentSecurityPolicy: false });
    authorizeRoutes(html, {
      clients,
      users,
      tokens,
      sessions,
      idTokens,
      consents,
      pages,
      issuer,
      sessionCookie: { secure: secureCookies, maxSeconds: tessera.config.sessionMaxSeconds },
      csrfKey: tessera.csrfKey,
      metrics,
    });
    endSessionRoutes(html, { clients, sessions, idTokens, pages, secureCookies });
  });
  const browserCookies = { csrfKey: tessera.csrfKey, secure: secureCookies };
  const tokenEndpoint = { clients, grants: tessera.grantServices, metrics, browserCookies };
  tokenRoute(app, tokenEndpoint);
  refreshRoute(app, tokenEndpoint);
  logoutRoute(app, { clients, tokens, revocation, browserCookies });
  verifyRoute(app, inspector);
  userinfoRoute(app, inspector);
  introspectRoute(app, { clients, inspector, issuer });
  revokeRoute(app, { clients, revocation });
  revocationsRoute(app, { clients, stream: tessera.revocationStream, metrics, requestTimeoutMs: tessera.config.requestTimeoutMs });
  registerRoutes(app, { clients, registrationTokens: tessera.registrationTokens, audit: tessera.audit, issuer });
  metadataRoute(app, { clients, issuer });
  jwksRoute(app, keys);
  healthRoutes(app, store);
  return app;
}

/**
 * The admin listener (TESSERA_ADMIN_PORT, loopback by default): what only operators and their
 * monitoring may see: the admin API, its OpenAPI document, and /metrics (whose per-route counts
 * would otherwise show anyone other people's failed sign-ins as they happen).
 */
export async function buildAdminApp(tessera: Tessera, metrics: Metrics): Promise<FastifyInstance> {
  const admin = Fastify({
    loggerInstance: tessera.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: requestId,
    requestTimeout: tessera.config.requestTimeoutMs,
    http: { requestTimeout: tessera.config.requestTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    return503OnClosing: false,
    clientErrorHandler,
    frameworkErrors: adminFrameworkErrors,
  });
  registerRequestLog(admin, tessera.config.logRequests);
  registerStrictJson(admin, ADMIN_BODY_LIMIT);
  registerAdminValidation(admin);
  registerProblemHandling(admin, tessera.store.outage);
  // Admin answers carry secrets, tokens and who-did-what: no cache may keep any of them.
  admin.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('Cache-Control', 'no-store');
    done(null, payload);
  });
  await registerOpenApi(admin, {
    path: '/admin/openapi.json',
    title: 'Tessera admin API',
    description:
      'Clients, users, tokens, keys, initial access tokens and the audit log, on the admin listener only. ' +
      'Every request but GET /admin/v1 needs a bearer token with the scope tessera:admin, from client_credentials of an admin client.',
    version: tesseraVersion(),
    securitySchemes: {
      adminToken: {
        type: 'oauth2',
        flows: { clientCredentials: { tokenUrl: `${tessera.config.issuer}/token`, scopes: { 'tessera:admin': 'the admin API' } } },
      },
    },
    tags: ['clients', 'users', 'tokens', 'keys', 'registration', 'audit', 'import', 'meta'].map((name) => ({
      name,
      description: `${name} (admin)`,
    })),
  });
  metricsRoute(admin, metrics);
  await adminRoutes(admin, {
    services: tessera.adminServices,
    inspector: tessera.inspector,
    issuer: tessera.config.issuer,
    version: tesseraVersion(),
  });
  return admin;
}
