// Builds the Fastify app from its parts: parsers, limits, error shape, and one file per endpoint.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import type { Config } from './config.js';
import type { Tessera } from './tessera.js';
import { clientErrorHandler, registerErrorHandling } from './http/errors.js';
import { registerStrictJson } from './http/json-body.js';
import { refuseMalformedQuery } from './http/params.js';
import { authorizeRoutes } from './http/authorize.js';
import { healthRoutes } from './http/health.js';
import { introspectRoute } from './http/introspect.js';
import { jwksRoute } from './http/jwks.js';
import { logoutRoute } from './http/logout.js';
import { metadataRoute } from './http/metadata.js';
import { countRequests, metricsRoute } from './http/metrics.js';
import { cookiesMustBeSecure } from './http/browser-session.js';
import { parseForm } from './http/form.js';
import { Metrics } from './metrics.js';
import { refreshRoute } from './http/refresh.js';
import { revocationsRoute } from './http/revocations.js';
import { revokeRoute } from './http/revoke.js';
import { tokenRoute } from './http/token.js';
import { verifyRoute } from './http/verify.js';

/** No legitimate request to this server comes near it; a larger one is refused with 413. */
export const BODY_LIMIT = 16 * 1024;

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
    logController: new LogController({ disableRequestLogging: !tessera.config.logRequests }),
    bodyLimit: BODY_LIMIT,
    trustProxy: trustProxyOption(tessera.config.trustProxy),
    requestTimeout: tessera.config.requestTimeoutMs,
    // Node 20 honours requestTimeout only when the server is constructed with it.
    http: { requestTimeout: tessera.config.requestTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    // Requests during shutdown and those Node's parser refuses get the usual error shape (http/errors.ts).
    return503OnClosing: false,
    clientErrorHandler,
    routerOptions: { querystringParser: parseForm },
  });
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
  // Each endpoint gets the services it uses, and nothing more.
  const { clients, users, tokens, inspector, revocation, keys, store } = tessera;
  const issuer = tessera.config.issuer;
  const secureCookies = cookiesMustBeSecure(issuer);
  // The HTML sign-in page gets helmet's security headers (and its own CSP); the JSON API does not
  // need them, and computing them on every hot-path answer cost a fifth of introspection's time.
  await app.register(async (pages) => {
    await pages.register(helmet, { contentSecurityPolicy: false });
    authorizeRoutes(pages, { clients, users, tokens, issuer, secureCookies });
  });
  const browserCookies = { csrfKey: tessera.csrfKey, secure: secureCookies };
  const tokenEndpoint = { clients, grants: tessera.grantServices, metrics, browserCookies };
  tokenRoute(app, tokenEndpoint);
  refreshRoute(app, tokenEndpoint);
  logoutRoute(app, { clients, tokens, revocation, browserCookies });
  verifyRoute(app, inspector);
  introspectRoute(app, { clients, inspector, issuer });
  revokeRoute(app, { clients, revocation });
  revocationsRoute(app, { clients, stream: tessera.revocationStream, metrics, requestTimeoutMs: tessera.config.requestTimeoutMs });
  metadataRoute(app, { clients, issuer });
  jwksRoute(app, keys);
  healthRoutes(app, store);
  return app;
}

/**
 * The admin listener (TESSERA_ADMIN_PORT, loopback by default): what only operators and their
 * monitoring may see. Today that is /metrics, whose per-route counts would otherwise show anyone
 * other people's failed sign-ins as they happen.
 */
export async function buildAdminApp(tessera: Tessera, metrics: Metrics): Promise<FastifyInstance> {
  const admin = Fastify({
    loggerInstance: tessera.log as FastifyBaseLogger,
    requestTimeout: tessera.config.requestTimeoutMs,
    http: { requestTimeout: tessera.config.requestTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    return503OnClosing: false,
    clientErrorHandler,
  });
  registerErrorHandling(admin, tessera.store.outage);
  metricsRoute(admin, metrics);
  return admin;
}
