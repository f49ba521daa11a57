// /admin/v1/registration-tokens: initial access tokens for RFC 7591 dynamic registration.
import type { FastifyInstance } from 'fastify';
import type { RegistrationTokenBody } from '../../admin/api.js';
import type { AdminFor } from './auth.js';
import * as s from './schemas.js';

export function registrationTokenRoutes(app: FastifyInstance, adminFor: AdminFor): void {
  app.post<{ Body: RegistrationTokenBody }>(
    '/registration-tokens',
    {
      schema: {
        tags: ['registration'],
        summary: 'An initial access token for POST /register (shown once)',
        body: s.registrationTokenBody,
        response: { 201: s.registrationTokenView, ...s.problems },
      },
      // Every field is optional, so the body is too: no body takes the defaults.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => reply.code(201).send(await (await adminFor(request)).registrationTokens.create(request.body)),
  );
}
