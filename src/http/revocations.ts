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
  app.get('/revocations', { exposeHeadRoute: false }, handler);
  app.post('/revocations', handler);
  // Streams never end by themselves: closing the app ends them, and listeners go elsewhere.
  app.addHook('preClose', (done) => {
    stream.close();
    done();
  });
}
