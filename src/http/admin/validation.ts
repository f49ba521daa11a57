// How the admin API validates requests: bodies strictly (no type coercion, unknown fields refused
// rather than silently dropped), query strings and path parameters with coercion (they arrive as
// text: `?limit=50` is the number 50). Fastify's default validator drops unknown fields.
import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';

export function registerAdminValidation(admin: FastifyInstance): void {
  const options = { removeAdditional: false, useDefaults: true, allErrors: false, strict: true } as const;
  const bodies = new Ajv({ ...options, coerceTypes: false });
  const text = new Ajv({ ...options, coerceTypes: true });
  admin.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodies : text).compile(schema));
}
