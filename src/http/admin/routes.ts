// The admin API under /admin/v1 (on the admin listener only): its root document, the bearer check
// that runs before anything else of a request is looked at, and one file per resource.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { localAdmin, type AdminServices } from '../../admin/local.js';
import { AdminError } from '../../domain/errors.js';
import type { TokenInspector } from '../../tokens/inspector.js';
import { auditRoutes } from './audit.js';
import { importRoutes } from './imports.js';
import { ADMIN_SCOPE } from '../../domain/clients.js';
import { badTextIn, holdsNul } from '../params.js';
import { noteRequestParties } from '../request-log.js';
import { adminCaller, type AdminFor } from './auth.js';
import { clientRoutes } from './clients.js';
import { keyRoutes } from './keys.js';
import { registrationTokenRoutes } from './registration-tokens.js';
import { tokenRoutes } from './tokens.js';
import { userRoutes } from './users.js';

export interface AdminRouteServices {
  services: AdminServices;
  inspector: Pick<TokenInspector, 'activeAccessToken'>;
  issuer: string;
  version: string;
}

export const ADMIN_PREFIX = '/admin/v1';

export async function adminRoutes(app: FastifyInstance, { services, inspector, issuer, version }: AdminRouteServices): Promise<void> {
  // Where the admin command finds the token endpoint when it is pointed at this listener (--url).
  app.get(
    ADMIN_PREFIX,
    {
      schema: {
        tags: ['meta'],
        summary: 'What the admin API is and where to get a token for it (no authentication)',
        response: {
          200: {
            type: 'object',
            properties: { issuer: { type: 'string' }, token_endpoint: { type: 'string' }, version: { type: 'string' } },
            required: ['issuer', 'token_endpoint', 'version'],
          },
        },
      },
    },
    async () => ({ issuer, token_endpoint: `${issuer}/token`, version }),
  );
  const callers = new WeakMap<FastifyRequest, string>();
  await app.register(
    async (api) => {
      // Every route here needs the admin token: said once, for the OpenAPI document.
      api.addHook('onRoute', (route) => {
        route.schema ??= {};
        (route.schema as { security?: unknown }).security ??= [{ adminToken: [ADMIN_SCOPE] }];
      });
      // onRequest: a caller without a valid admin token learns nothing about the body it sent.
      api.addHook('onRequest', async (request) => {
        const caller = await adminCaller(request, inspector);
        callers.set(request, caller);
        noteRequestParties(request, caller);
      });
      api.addHook('preValidation', async (request) => {
        const nulAt = (part: unknown, name: string) => badTextIn(part, name, holdsNul);
        const where = nulAt(request.params, 'params') ?? nulAt(request.query, 'querystring') ?? nulAt(request.body, 'body');
        if (where !== null) throw new AdminError(`${where} holds a NUL character`);
      });
      const adminFor: AdminFor = async (request) => localAdmin(services, callers.get(request)!);
      clientRoutes(api, adminFor);
      userRoutes(api, adminFor);
      tokenRoutes(api, adminFor);
      keyRoutes(api, adminFor);
      registrationTokenRoutes(api, adminFor);
      auditRoutes(api, adminFor);
      importRoutes(api, adminFor);
    },
    { prefix: ADMIN_PREFIX },
  );
}
