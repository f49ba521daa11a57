// /admin/v1/users: list, create, get, change, delete. A user is named by id or username.
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
}
