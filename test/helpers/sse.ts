// A Server-Sent Events reader for the tests of GET /revocations: the frames as the wire carries
// them, parsed per the HTML standard's rules (fields, comments, blank line ends an event).
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
  /** When the event was read, Date.now(). */
  receivedAt: number;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** Every event read so far, in order (heartbeat comments count as event ':comment'). */
  events: SseEvent[];
  /** Resolves with the first event after `from` (an index into events) that passes `test`. */
  next(test: (event: SseEvent) => boolean, timeoutMs?: number, from?: number): Promise<SseEvent>;
  /** The error body of a refused stream. */
  body?: Record<string, unknown>;
  close(): void;
}

export async function openStream(url: string, init: RequestInit = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, signal: controller.signal });
  const events: SseEvent[] = [];
  const waiters = new Set<(event: SseEvent) => void>();
  const stream: SseStream = {
    status: response.status,
    headers: response.headers,
    events,
    close: () => controller.abort(),
    next(test, timeoutMs = 5000, from = 0) {
      return new Promise((resolve, reject) => {
        const found = events.slice(from).find(test);
        if (found) return resolve(found);
        const waiter = (event: SseEvent) => {
          if (!test(event)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          resolve(event);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no such event within ${timeoutMs} ms (${events.length} read, the last: ${events.at(-1)?.event})`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
  };
  if (!response.ok || !response.body) {
    stream.body = (await response.json()) as Record<string, unknown>;
    return stream;
  }
  const decoder = new TextDecoder();
  let buffer = '';
  let current: { id?: string; event?: string; data: string[] } = { data: [] };
  const dispatch = (event: SseEvent) => {
    events.push(event);
    for (const waiter of [...waiters]) waiter(event);
  };
  void (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        const lines = (buffer + decoder.decode(chunk, { stream: true })).split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') {
            if (current.data.length > 0 || current.event)
              dispatch({ ...current, event: current.event ?? 'message', data: current.data.join('\n'), receivedAt: Date.now() });
            current = { data: [] };
          } else if (line.startsWith(':')) {
            dispatch({ event: ':comment', data: line.slice(1).trim(), receivedAt: Date.now() });
          } else {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') current.id = value;
            else if (field === 'event') current.event = value;
            else if (field === 'data') current.data.push(value);
          }
        }
      }
    } catch {
      // aborted by close(), or the server ended the stream
    }
  })();
  return stream;
}
