// /admin/v1/keys: the signing keys; rotate; revoke one at once.
import type { FastifyInstance } from 'fastify';
import type { AdminFor } from './auth.js';
import * as s from './schemas.js';

const tags = ['keys'];
const byKid = s.idParam('kid');

export function keyRoutes(app: FastifyInstance, adminFor: AdminFor): void {
  app.get(
    '/keys',
    {
      schema: {
        tags,
        summary: 'The published signing keys',
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: s.keyView } }, required: ['items'] },
          ...s.problems,
        },
      },
    },
    async (request) => ({ items: await (await adminFor(request)).keys.list() }),
  );
  app.post(
    '/keys/rotate',
    {
      schema: {
        tags,
        summary: 'Sign with a new key; the old one stays published until its tokens expire',
        response: { 200: s.keyView, ...s.problems },
      },
    },
    async (request) => (await adminFor(request)).keys.rotate(),
  );
  app.post<{ Params: { kid: string } }>(
    '/keys/:kid/revoke',
    {
      schema: {
        tags,
        summary: 'Stop publishing a key at once: every token it signed stops verifying',
        params: byKid,
        response: { 200: s.keyRevoked, ...s.problems },
      },
    },
    async (request) => (await adminFor(request)).keys.revoke(request.params.kid),
  );
}
