// The Fastify plugin. Typed by the little of Fastify it uses, so that the kit does not depend on
// Fastify; registered at the root, it serves every route of the app.
import type { Auth } from './auth.js';
import { authenticate } from './http.js';
import type { Verifier } from './verifier.js';

export interface FastifyTesseraOptions {
  verifier: Verifier;
}

/** What a route may say in its `config`: `public: true` skips the check, `scopes` are required. */
export interface TesseraRouteConfig {
  public?: boolean;
  scopes?: readonly string[];
}

interface RequestLike {
  headers: { authorization?: string | undefined };
  routeOptions: { config: unknown };
  auth?: Auth | null;
}

interface ReplyLike {
  code(statusCode: number): ReplyLike;
  header(name: string, value: string): ReplyLike;
  send(payload: unknown): ReplyLike;
}

interface FastifyLike {
  decorateRequest(property: 'auth', value: null): unknown;
  addHook(name: 'onRequest', hook: (request: RequestLike, reply: ReplyLike) => Promise<unknown>): unknown;
}

function routeConfig(config: unknown): TesseraRouteConfig {
  return typeof config === 'object' && config !== null ? (config as TesseraRouteConfig) : {};
}

function plugin(app: FastifyLike, { verifier }: FastifyTesseraOptions, done: (error?: Error) => void): void {
  app.decorateRequest('auth', null);
  // onRequest: a request without a good token is answered before its body is even read.
  app.addHook('onRequest', async (request, reply) => {
    const config = routeConfig(request.routeOptions.config);
    if (config.public === true) return;
    const { auth, refusal } = await authenticate(verifier, request.headers.authorization, config.scopes);
    if (refusal !== undefined) return reply.code(refusal.status).header('WWW-Authenticate', refusal.wwwAuthenticate).send(refusal.body);
    request.auth = auth;
  });
  done();
}

/**
 * `app.register(fastifyTessera, { verifier })`. Not encapsulated (what fastify-plugin marks with
 * `skip-override`): its hook and `request.auth` apply to the whole app, not to a child context.
 */
export const fastifyTessera = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@tessera/verify',
});
