// The revocation stream (GET /revocations): every revocation, from any instance, sent to every
// connected listener as a Server-Sent Event, so that services verifying JWTs on their own refuse a
// revoked one within a second without asking per request.
//
// The events are the rows of the revocation log (src/store/revocations.ts), whose ids are shared by
// every instance: a listener resumes with Last-Event-ID on whichever instance it reaches. One read
// of the log per batch of revocations serves every listener of this instance that keeps up; each
// listener is only written to, never waited for (the HTTP layer cuts off one that stops reading).
import type { RevocationEntry, RevocationLog } from '../store/revocations.js';

/** Where a listener's frames go. */
export interface StreamConnection {
  write(frame: string): void;
  /** False while the listener has not taken what it was sent: it is sent nothing more until it has. */
  writable(): boolean;
  end(): void;
}

export interface StreamOptions {
  heartbeatMs: number;
  maxListeners: number;
  /** Failures nobody awaits (a read of the log while the database is down). */
  onError: (error: unknown) => void;
}

/** A listener admitted to the stream; it receives events once started. */
export interface Listener {
  connection: StreamConnection | null;
  /** The newest event id it has been sent (or need not be sent). */
  cursor: number;
  /** While it catches up at the start: the newest id then, after which it is told it has (`synced`). */
  syncAt: number | null;
}

const PAGE = 500;
/** After a failed read, the next try: the revocations are in the log and wait for it. */
const RETRY_MS = 1000;

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export function eventFrame(entry: RevocationEntry): string {
  const data = {
    ...(entry.jti === undefined ? {} : { jti: entry.jti }),
    ...(entry.sid === undefined ? {} : { sid: entry.sid }),
    ...(entry.sub === undefined ? {} : { sub: entry.sub }),
    ...(entry.clientId === undefined ? {} : { client_id: entry.clientId }),
    ...(entry.kid === undefined ? {} : { kid: entry.kid }),
    at: seconds(entry.at),
    exp: seconds(entry.exp),
  };
  return `id: ${entry.id}\nevent: revocation\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A Last-Event-ID we issued: a decimal event id. */
function parseEventId(value: string): number | null {
  return /^\d{1,15}$/.test(value) ? Number(value) : null;
}

export class RevocationStream {
  private readonly admitted = new Set<Listener>();
  private queue: Promise<void> = Promise.resolve();
  private pumpQueued = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly log: Pick<RevocationLog, 'after' | 'bounds'>,
    private readonly options: StreamOptions,
  ) {}

  get listeners(): number {
    return this.admitted.size;
  }

  /** Admits one more listener; null when this instance serves as many as it may, or is closing. */
  admit(): Listener | null {
    if (this.closed || this.admitted.size >= this.options.maxListeners) return null;
    const listener: Listener = { connection: null, cursor: 0, syncAt: null };
    this.admitted.add(listener);
    this.heartbeat ??= setInterval(() => this.broadcast(': heartbeat\n\n'), this.options.heartbeatMs).unref();
    return listener;
  }

  /**
   * Sends the listener what it missed, then live events. Without `lastEventId`, what it missed is
   * every revocation still in force; with one we cannot resume from (not ours, or older than the
   * log keeps), it is told to start over (`event: reset`) and then sent the same.
   */
  start(listener: Listener, connection: StreamConnection, lastEventId: string | undefined): Promise<void> {
    return this.serially(async () => {
      const bounds = await this.log.bounds();
      const newest = bounds?.newest ?? 0;
      if (lastEventId !== undefined) {
        const resume = parseEventId(lastEventId);
        const tooOld = resume !== null && bounds !== null && resume < bounds.oldest - 1;
        // No id on it: a listener cut off before `synced` resumes with none, and is sent everything again.
        if (resume === null || resume > newest || tooOld) connection.write('event: reset\ndata: {}\n\n');
        else listener.cursor = resume;
      }
      // Gone meanwhile: it left, or the stream closed (then its connection must end here).
      if (!this.admitted.has(listener)) return connection.end();
      listener.syncAt = newest;
      listener.connection = connection;
      this.revocationsCommitted();
    });
  }

  leave(listener: Listener): void {
    this.admitted.delete(listener);
    if (this.admitted.size === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  /** New rows in the revocation log (committed here or on another instance), or a listener ready for more. */
  revocationsCommitted(): void {
    if (this.admitted.size === 0 || this.pumpQueued || this.closed) return;
    this.pumpQueued = true;
    void this.serially(async () => {
      this.pumpQueued = false;
      await this.pump();
    }).catch((error: unknown) => {
      this.options.onError(error);
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.revocationsCommitted(), RETRY_MS).unref();
    });
  }

  /** Ends every stream (shutdown): listeners reconnect elsewhere with their Last-Event-ID. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    for (const listener of this.admitted) listener.connection?.end();
    this.admitted.clear();
    clearInterval(this.heartbeat);
  }

  /**
   * Sends every listener that keeps up the rows after its cursor, a page at a time; one that does
   * not keep up is passed over, and catches up from the log when it has drained (the log, not this
   * process's memory, holds what it has yet to read).
   */
  private async pump(): Promise<void> {
    for (;;) {
      const ready = [...this.admitted].filter((l) => l.connection?.writable());
      if (ready.length === 0) return;
      const page = await this.log.after(Math.min(...ready.map((l) => l.cursor)), PAGE, new Date());
      const frames = page.map((entry) => ({ id: entry.id, frame: eventFrame(entry) }));
      const caughtUp = page.length < PAGE;
      for (const listener of ready) {
        const unsent = frames.filter((f) => f.id > listener.cursor);
        if (unsent.length > 0) {
          listener.connection?.write(unsent.map((f) => f.frame).join(''));
          listener.cursor = unsent.at(-1)!.id;
        }
        if (caughtUp && listener.syncAt !== null) {
          // Everything up to syncAt has been sent or is no longer in force.
          listener.cursor = Math.max(listener.cursor, listener.syncAt);
          listener.syncAt = null;
          listener.connection?.write(`id: ${listener.cursor}\nevent: synced\ndata: {}\n\n`);
        }
      }
      if (caughtUp) return;
    }
  }

  private broadcast(frame: string): void {
    for (const listener of this.admitted) if (listener.connection?.writable()) listener.connection.write(frame);
  }

  /** Reads of the log and the cursors they move, one at a time, in order. */
  private serially(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
