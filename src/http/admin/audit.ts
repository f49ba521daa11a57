// /admin/v1/audit: the audit log, newest first.
import type { FastifyInstance } from 'fastify';
import type { PageQuery } from '../../admin/api.js';
import type { AdminFor } from './auth.js';
import * as s from './schemas.js';

export function auditRoutes(app: FastifyInstance, adminFor: AdminFor): void {
  app.get<{ Querystring: PageQuery }>(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'Who changed what, newest first',
        querystring: s.pageQuery,
        response: { 200: s.page(s.auditView), ...s.problems },
      },
    },
    async (request) => (await adminFor(request)).audit.list(request.query),
  );
}
