// application/json bodies, read strictly: bytes that are not UTF-8 are refused, where Fastify's
// own parser replaces them with U+FFFD and carries on. The parse itself (with its guards against
// __proto__ and constructor poisoning) is still Fastify's.
import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../oauth/errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function registerStrictJson(app: FastifyInstance, bodyLimit: number): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new InvalidRequestError('Invalid request: the body is not UTF-8'), undefined);
      return;
    }
    void parse(request, text, done);
  });
}
