// The verifier's end of the revocation stream (GET /revocations, or POST for credentials that
// travel in the body): one long-lived response read as Server-Sent Events, reopened after a drop
// with Last-Event-ID so that nothing announced meanwhile is missed.
import type { ClientAuthenticator } from './client-auth.js';
import { MATCHED_FIELDS, type RevocationEvent } from './revocations.js';
import { SseParser, type ServerSentEvent } from './sse.js';

export interface StreamHandlers {
  revoked(event: RevocationEvent): void;
  /** The server cannot resume from our last event id: everything known may be wrong. */
  reset(): void;
  /** The replay after connecting is complete. */
  synced(): void;
  /** The connection is gone (a reconnection follows unless closed). */
  disconnected(): void;
  /** A failure to connect or to read; the stream retries by itself. */
  error(error: Error): void;
}

/** The SSE default when the server names no `retry:` (it does). */
const DEFAULT_RETRY_MS = 1000;
/** Reconnections back off from the `retry:` value, doubling per failure, up to this. */
const MAX_BACKOFF_MS = 30_000;
/** A `retry:` below this is raised to it: a stream dropping at once must not become a busy loop. */
const MIN_RETRY_MS = 100;
/**
 * The server sends a heartbeat comment every 15 s by default; a connection silent for this long is
 * presumed dead (a peer gone without closing it) and reopened.
 */
const IDLE_MS = 60_000;

export function parseRevocation(data: string): RevocationEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const fields = value as Record<string, unknown>;
  if (typeof fields.at !== 'number' || typeof fields.exp !== 'number') return null;
  const event: Record<string, string | number> = { at: fields.at, exp: fields.exp };
  for (const field of MATCHED_FIELDS) {
    const found = fields[field];
    if (found === undefined) continue;
    if (typeof found !== 'string') return null;
    event[field] = found;
  }
  return event as RevocationEvent;
}

export class RevocationListener {
  private lastEventId = '';
  private retryMs = DEFAULT_RETRY_MS;
  private closed = false;
  private connection: AbortController | undefined;
  private backoff: { timer: NodeJS.Timeout; wake: () => void } | undefined;

  constructor(
    private readonly url: string,
    private readonly auth: ClientAuthenticator,
    private readonly handlers: StreamHandlers,
  ) {}

  start(): void {
    void this.run();
  }

  /** Ends the connection and every timer; nothing happens after it. */
  close(): void {
    this.closed = true;
    this.connection?.abort();
    if (this.backoff !== undefined) {
      clearTimeout(this.backoff.timer);
      this.backoff.wake();
    }
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.closed;) {
      failures = (await this.connect()) ? 0 : failures + 1;
      if (this.closed) return;
      // From the `retry:` value, doubling with each failure in a row; jitter spreads the
      // reconnections of many services after a server restart.
      const delay = Math.min(MAX_BACKOFF_MS, this.retryMs * 2 ** Math.max(0, failures - 1)) * (0.75 + Math.random() / 2);
      await new Promise<void>((wake) => (this.backoff = { timer: setTimeout(wake, delay), wake }));
      this.backoff = undefined;
    }
  }

  /** One connection, read until it ends; true if the server accepted it. */
  private async connect(): Promise<boolean> {
    const connection = new AbortController();
    this.connection = connection;
    const idle = setTimeout(() => connection.abort(new Error(`revocation stream: nothing received for ${IDLE_MS / 1000} s`)), IDLE_MS);
    const parser = new SseParser(
      this.lastEventId,
      (event) => this.dispatch(event),
      (ms) => (this.retryMs = Math.max(MIN_RETRY_MS, ms)),
    );
    let opened = false;
    try {
      const { headers, form } = await this.auth.authenticate();
      const response = await fetch(this.url, {
        method: this.auth.inBody ? 'POST' : 'GET',
        headers: {
          accept: 'text/event-stream',
          ...headers,
          ...(this.auth.inBody ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          ...(this.lastEventId === '' ? {} : { 'last-event-id': this.lastEventId }),
        },
        ...(this.auth.inBody ? { body: new URLSearchParams(form).toString() } : {}),
        signal: connection.signal,
      });
      if (response.status !== 200 || !response.headers.get('content-type')?.startsWith('text/event-stream') || response.body === null) {
        await response.body?.cancel();
        throw new Error(`revocation stream: ${this.url} answered ${response.status} ${response.headers.get('content-type') ?? ''}`.trim());
      }
      opened = true;
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        idle.refresh();
        parser.push(decoder.decode(chunk, { stream: true }));
      }
    } catch (error) {
      if (!this.closed) {
        const reason = connection.signal.aborted ? connection.signal.reason : error;
        this.handlers.error(reason instanceof Error ? reason : new Error(String(reason)));
      }
    } finally {
      clearTimeout(idle);
      this.lastEventId = parser.lastEventId;
      if (opened) this.handlers.disconnected();
    }
    return opened;
  }

  private dispatch(event: ServerSentEvent): void {
    switch (event.type) {
      case 'revocation': {
        const revocation = parseRevocation(event.data);
        if (revocation) this.handlers.revoked(revocation);
        else this.handlers.error(new Error(`revocation stream: malformed revocation event ${event.lastEventId}`));
        break;
      }
      case 'reset':
        this.handlers.reset();
        break;
      case 'synced':
        this.handlers.synced();
        break;
    }
  }
}
