// /admin/v1/users: list, create, get, change, delete; the clients a user approved (consents). A user
// is named by id or username.
import type { FastifyInstance } from 'fastify';
import type { PageQuery, UserCreateBody, UserPatchBody } from '../../admin/api.js';
import type { AdminFor } from './auth.js';
import * as s from './schemas.js';

const tags = ['users'];
const byUser = s.idParam('user');
type ByUser = { Params: { user: string } };

export function userRoutes(app: FastifyInstance, adminFor: AdminFor): void {
  app.get<{ Querystring: PageQuery }>(
    '/users',
    {
      schema: {
        tags,
        summary: 'List users, in creation order',
        querystring: s.pageQuery,
        response: { 200: s.page(s.userView), ...s.problems },
      },
    },
    async (request) => (await adminFor(request)).users.list(request.query),
  );
  app.post<{ Body: UserCreateBody }>(
    '/users',
    { schema: { tags, summary: 'Create a user', body: s.userCreateBody, response: { 201: s.userView, ...s.problems } } },
    async (request, reply) => reply.code(201).send(await (await adminFor(request)).users.create(request.body)),
  );
  app.get<ByUser>(
    '/users/:user',
    { schema: { tags, summary: 'One user, by id or username', params: byUser, response: { 200: s.userView, ...s.problems } } },
    async (request) => (await adminFor(request)).users.get(request.params.user),
  );
  app.patch<ByUser & { Body: UserPatchBody }>(
    '/users/:user',
    {
      schema: {
        tags,
        summary: 'Change a user; deactivating or a new password ends every token they hold',
        params: byUser,
        body: s.userPatchBody,
        response: { 200: s.userView, ...s.problems },
      },
    },
    async (request) => (await adminFor(request)).users.update(request.params.user, request.body),
  );
  app.delete<ByUser>(
    '/users/:user',
    {
      schema: {
        tags,
        summary: 'Delete a user and everything issued to them',
        params: byUser,
        response: { 204: { type: 'null' }, ...s.problems },
      },
    },
    async (request, reply) => {
      await (await adminFor(request)).users.delete(request.params.user);
      return reply.code(204).send();
    },
  );
  app.get<ByUser & { Querystring: PageQuery }>(
    '/users/:user/consents',
    {
      schema: {
        tags,
        summary: 'The third-party clients the user approved, and the scopes, in client_id order',
        params: byUser,
        querystring: s.pageQuery,
        response: { 200: s.page(s.consentView), ...s.problems },
      },
    },
    async (request) => (await adminFor(request)).users.consents(request.params.user, request.query),
  );
  app.delete<{ Params: { user: string; client_id: string } }>(
    '/users/:user/consents/:client_id',
    {
      schema: {
        tags,
        summary: "Withdraw the user's approval of a client, and end their grants with it",
        description:
          'The user is asked again at the next sign-in to the client. Their refresh tokens with it and the access tokens issued from them end at once, announced on the revocation stream. 404 when the user, the client or the approval does not exist.',
        params: s.consentParams,
        response: { 204: { type: 'null' }, ...s.problems },
      },
    },
    async (request, reply) => {
      await (await adminFor(request)).users.revokeConsent(request.params.user, request.params.client_id);
      return reply.code(204).send();
    },
  );
}
