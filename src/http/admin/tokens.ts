// /admin/v1/tokens: revoke (one token, a user's, a client's), issue for a user, prune now.
import type { FastifyInstance } from 'fastify';
import type { RevokeBody, TokenCreateBody } from '../../admin/api.js';
import type { AdminFor } from './auth.js';
import * as s from './schemas.js';

const tags = ['tokens'];

export function tokenRoutes(app: FastifyInstance, adminFor: AdminFor): void {
  app.post<{ Body: RevokeBody }>(
    '/tokens/revoke',
    {
      schema: {
        tags,
        summary: 'Revoke one token, everything a user holds, or everything issued to a client',
        body: s.revokeBody,
        response: { 200: s.revokeResult, ...s.problems },
      },
    },
    async (request) => (await adminFor(request)).tokens.revoke(request.body),
  );
  app.post<{ Body: TokenCreateBody }>(
    '/tokens',
    {
      schema: {
        tags,
        summary: "Issue an access token for a user and client, outside any OAuth flow (the client's rules apply)",
        body: s.tokenCreateBody,
        response: { 201: s.issuedToken, ...s.problems },
      },
    },
    async (request, reply) => reply.code(201).send(await (await adminFor(request)).tokens.create(request.body)),
  );
  app.post(
    '/tokens/prune',
    { schema: { tags, summary: 'Delete expired and long-revoked rows now', response: { 200: s.pruneCounts, ...s.problems } } },
    async (request) => (await adminFor(request)).tokens.prune(),
  );
}
