// /admin/v1/import/django: what `tessera import django` does, for the admin command's remote mode.
import type { FastifyInstance } from 'fastify';
import type { DjangoImportBody } from '../../admin/api.js';
import { MAX_DUMP_BYTES } from '../../domain/django-import.js';
import type { AdminFor } from './auth.js';
import * as s from './schemas.js';

/** The dump travels as a JSON string: its quotes and backslashes escaped, it can take up to twice its size. */
const IMPORT_BODY_LIMIT = 2 * MAX_DUMP_BYTES + 64 * 1024;

export function importRoutes(app: FastifyInstance, adminFor: AdminFor): void {
  app.post<{ Body: DjangoImportBody }>(
    '/import/django',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        tags: ['import'],
        summary: 'Bring users, DRF tokens and django-oauth-toolkit applications over from a Django dump, in one transaction',
        description:
          'The dump is checked whole first: any problem, and nothing is written (400 with every problem, by line and record). ' +
          'What an earlier import brought over is left as it is, so importing the same dump again changes nothing.',
        body: s.djangoImportBody,
        response: { 200: s.djangoImportView, ...s.problems, 400: s.dumpProblems },
      },
    },
    async (request) => (await adminFor(request)).imports.django(request.body),
  );
}
