// GET /revocations — the revocation stream as Server-Sent Events (src/tokens/revocation-stream.ts),
// for a confidential client allowed to introspect. GET authenticates with HTTP Basic; POST takes any
// client authentication in a form body as well (a private_key_jwt client's assertion does not
// belong in a URL). The response is written to the socket directly: it never ends by itself.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clients } from '../domain/clients.js';
import { UnavailableError } from '../domain/errors.js';
import type { Metrics } from '../metrics.js';
import { OAuthError } from '../oauth/errors.js';
import type { RevocationStream, StreamConnection } from '../tokens/revocation-stream.js';
import { authenticateClient, CLIENT_AUTH_PARAMETERS } from './client-auth.js';
import { bodyParams } from './params.js';
import {
  clientAuthentication,
  commonErrors,
  documentationOnly,
  FORM_OR_JSON,
  invalidClient,
  oauthError,
  parameters,
  security,
} from './route-docs.js';

/** Unsent bytes past which a listener is sent nothing more until it has read them. */
const HIGH_WATER_BYTES = 64 * 1024;
/** How soon a listener reconnects after a drop (the SSE `retry` field). */
const RETRY_MS = 1000;

export interface RevocationsServices {
  clients: Pick<Clients, 'authenticate'>;
  stream: RevocationStream;
  metrics: Pick<Metrics, 'streamListeners' | 'slowListenersCut'>;
  requestTimeoutMs: number;
}

/**
 * Opens the event stream on the raw response. A listener that has not read what it was sent
 * within the request timeout is cut off (`onCutOff`): it resumes with Last-Event-ID when it
 * reconnects, and a stalled peer holds no more than a page here.
 */
function eventStream(raw: ServerResponse, cutOffAfterMs: number, onCutOff: () => void): StreamConnection & { stop(): void } {
  raw.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // A stream ends only when the server closes (or cuts it off): then the socket goes too,
    // rather than lingering as an idle keep-alive connection that holds up the shutdown.
    Connection: 'close',
    // Proxies that buffer responses (nginx) would hold the events back.
    'X-Accel-Buffering': 'no',
  });
  raw.write(`retry: ${RETRY_MS}\n\n`);
  let stalled: NodeJS.Timeout | undefined;
  raw.on('drain', () => {
    clearTimeout(stalled);
    stalled = undefined;
  });
  return {
    write(frame) {
      raw.write(frame);
      if (raw.writableLength >= HIGH_WATER_BYTES && !stalled)
        stalled = setTimeout(() => {
          onCutOff();
          raw.destroy();
        }, cutOffAfterMs);
    },
    writable: () => !raw.destroyed && raw.writableLength < HIGH_WATER_BYTES,
    end: () => raw.end(),
    stop: () => clearTimeout(stalled),
  };
}

const streamDescription =
  'Server-Sent Events (`text/event-stream`), for a confidential client allowed to introspect; the answer never ends by itself. ' +
  'It opens with `retry: 1000`; then every revocation still in force (or, with `Last-Event-ID`, those after it), `event: synced` once caught up, then each new revocation within a second of it, from any instance; a comment line `: heartbeat` keeps the connection alive. ' +
  'An `event: revocation` has an `id` (resume with it as Last-Event-ID) and JSON data `{"jti"?, "sid"?, "sub"?, "client_id"?, "kid"?, "at", "exp"}`: every access token that matches all the members given and was issued at or before `at` (seconds since the epoch) is revoked, and the event matters until `exp`. ' +
  '`event: reset` (data `{}`): the Last-Event-ID cannot be resumed from; drop what was learnt and take what follows as everything in force. ' +
  'A listener that stops reading is cut off after the request timeout, and resumes when it reconnects.';

const streamResponses = {
  200: {
    description: 'The event stream (Cache-Control: no-store, Connection: close)',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  },
  400: oauthError('A malformed request, or two client authentication methods', ['invalid_request']),
  401: invalidClient,
  403: oauthError('The client is not allowed to introspect', ['unauthorized_client']),
  // No 413 here: a GET's body is not read (POST adds it).
  500: commonErrors[500],
  503: commonErrors[503],
};

const lastEventId = {
  type: 'object',
  properties: { 'last-event-id': { type: 'string', description: 'the `id` of the last event received: resume after it' } },
};

const getSchema = {
  tags: ['tokens'],
  summary: 'The revocation stream (Server-Sent Events), with HTTP Basic client authentication',
  description: streamDescription,
  security: security(['clientBasic'], false),
  headers: lastEventId,
  response: streamResponses,
};

const postSchema = {
  tags: ['tokens'],
  summary: 'The revocation stream (Server-Sent Events), with client authentication in the body',
  description: `${streamDescription} POST takes any client authentication (client_secret_post, or private_key_jwt, whose assertion does not belong in a URL) as well as Basic.`,
  security: clientAuthentication,
  consumes: FORM_OR_JSON,
  headers: lastEventId,
  body: parameters(CLIENT_AUTH_PARAMETERS),
  response: { ...streamResponses, 413: commonErrors[413] },
};

export function revocationsRoute(app: FastifyInstance, { clients, stream, metrics, requestTimeoutMs }: RevocationsServices): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = bodyParams(request, CLIENT_AUTH_PARAMETERS);
    const client = await authenticateClient(clients, request, params);
    if (!client.canIntrospect)
      throw new OAuthError('unauthorized_client', 'Unauthorized client: the revocation stream is for clients allowed to introspect', 403);
    const listener = stream.admit();
    if (!listener) throw new UnavailableError('Temporarily unavailable: this instance has as many stream listeners as it serves', 5);
    const lastEventId = request.headers['last-event-id'];

    reply.hijack();
    const raw = reply.raw;
    // Gone while it was being authenticated: 'close' has fired already, and will not again.
    if (raw.destroyed) return stream.leave(listener);
    const connection = eventStream(raw, requestTimeoutMs, () => metrics.slowListenersCut.inc());
    raw.on('drain', () => stream.revocationsCommitted());
    metrics.streamListeners.inc();
    raw.on('close', () => {
      connection.stop();
      stream.leave(listener);
      metrics.streamListeners.dec();
    });
    try {
      await stream.start(listener, connection, typeof lastEventId === 'string' ? lastEventId : undefined);
    } catch (error) {
      // The 200 has gone: the listener reconnects and resumes.
      request.log.warn({ err: error }, 'revocation stream: could not start a listener');
      raw.destroy();
    }
  };
  // No HEAD: a stream has no end for HEAD to stop at (Fastify would add it for the GET route).
  // documentationOnly: the schemas document; the endpoint reads its parameters itself (src/http/route-docs.ts).
  app.get('/revocations', { exposeHeadRoute: false, schema: getSchema, ...documentationOnly }, handler);
  app.post('/revocations', { schema: postSchema, ...documentationOnly }, handler);
  // Streams never end by themselves: closing the app ends them, and listeners go elsewhere.
  app.addHook('preClose', (done) => {
    stream.close();
    done();
  });
}
