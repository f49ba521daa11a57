// /admin/v1/clients: list, create, get, change in place, delete, rotate the secret.
import type { FastifyInstance } from 'fastify';
import type { ClientCreateBody, ClientSettingsBody, PageQuery } from '../../admin/api.js';
import type { AdminFor } from './auth.js';
import * as s from './schemas.js';

const tags = ['clients'];
const byId = s.idParam('client_id');
type ById = { Params: { client_id: string } };

export function clientRoutes(app: FastifyInstance, adminFor: AdminFor): void {
  app.get<{ Querystring: PageQuery }>(
    '/clients',
    {
      schema: {
        tags,
        summary: 'List clients, in registration order',
        querystring: s.pageQuery,
        response: { 200: s.page(s.clientView), ...s.problems },
      },
    },
    async (request) => (await adminFor(request)).clients.list(request.query),
  );
  app.post<{ Body: ClientCreateBody }>(
    '/clients',
    {
      schema: {
        tags,
        summary: 'Register a client; the answer holds its secret, once',
        body: s.clientCreateBody,
        response: { 201: s.clientView, ...s.problems },
      },
    },
    async (request, reply) => reply.code(201).send(await (await adminFor(request)).clients.create(request.body)),
  );
  app.get<ById>(
    '/clients/:client_id',
    { schema: { tags, summary: 'One client', params: byId, response: { 200: s.clientView, ...s.problems } } },
    async (request) => (await adminFor(request)).clients.get(request.params.client_id),
  );
  app.patch<ById & { Body: ClientSettingsBody }>(
    '/clients/:client_id',
    {
      schema: {
        tags,
        summary: 'Change settings in place; narrowing scopes or grants ends the tokens the client holds',
        description:
          'The change is checked as a whole, as registration would check it: a change that would leave the client invalid is refused and changes nothing.',
        params: byId,
        body: s.clientPatchBody,
        response: { 200: s.clientView, ...s.problems },
      },
    },
    async (request) => (await adminFor(request)).clients.update(request.params.client_id, request.body),
  );
  app.delete<ById>(
    '/clients/:client_id',
    {
      schema: {
        tags,
        summary: 'Delete a client and every token issued to it',
        params: byId,
        response: { 204: { type: 'null' }, ...s.problems },
      },
    },
    async (request, reply) => {
      await (await adminFor(request)).clients.delete(request.params.client_id);
      return reply.code(204).send();
    },
  );
  app.post<ById & { Body: { grace_seconds?: number } }>(
    '/clients/:client_id/secret',
    {
      schema: {
        tags,
        summary: 'Rotate the secret; the old one keeps working for grace_seconds (at most 7 days)',
        params: byId,
        body: s.secretRotationBody,
        response: { 200: s.secretRotation, ...s.problems },
      },
      // Every field is optional, so the body is too: no body rotates without a grace period.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => (await adminFor(request)).clients.rotateSecret(request.params.client_id, request.body),
  );
}
