// A Server-Sent Events parser (the WHATWG HTML "event stream interpretation"), fed the decoded text
// of a response body chunk by chunk. Written out here because Node 20 has no EventSource and the kit
// takes no dependency but jose; it is also the only way to send an Authorization header or a POST
// body, which EventSource cannot.

export interface ServerSentEvent {
  /** The `event:` field, `message` when absent. */
  type: string;
  data: string;
  /** The stream's last event id when the event was dispatched ('' before any). */
  lastEventId: string;
}

const LF = 0x0a;
const CR = 0x0d;
/** A line longer than this is no event of ours: the stream is given up rather than buffered. */
const MAX_LINE = 1024 * 1024;

export class SseParser {
  private partial = '';
  /** The previous chunk ended in CR: a LF opening this one belongs to the same line break. */
  private afterCR = false;
  private type = '';
  private data: string[] = [];
  private idBuffer: string;

  constructor(
    /** Resumed streams start from the previous connection's last event id. */
    public lastEventId: string,
    private readonly onEvent: (event: ServerSentEvent) => void,
    private readonly onRetry: (ms: number) => void,
  ) {
    this.idBuffer = lastEventId;
  }

  push(chunk: string): void {
    let text = chunk;
    if (this.afterCR && text.charCodeAt(0) === LF) text = text.slice(1);
    this.afterCR = false;
    text = this.partial + text;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      this.line(text.slice(start, i));
      if (c === CR) {
        if (i + 1 === text.length) this.afterCR = true;
        else if (text.charCodeAt(i + 1) === LF) i++;
      }
      start = i + 1;
    }
    this.partial = text.slice(start);
    if (this.partial.length > MAX_LINE) throw new Error(`revocation stream: a line longer than ${MAX_LINE} characters`);
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return; // a comment, such as the server's heartbeat
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.onRetry(Number(value));
        break;
    }
  }

  private dispatch(): void {
    this.lastEventId = this.idBuffer;
    // The standard drops an event without data; an event type alone (`event: reset`) is kept here,
    // so that a control event is never lost to a server that sends it without a data line.
    if (this.data.length > 0 || this.type !== '') {
      this.onEvent({ type: this.type || 'message', data: this.data.join('\n'), lastEventId: this.lastEventId });
    }
    this.type = '';
    this.data = [];
  }
}
