/**
 * An incremental Server-Sent Events parser (the WHATWG "event stream" format) for watch streams.
 *
 * Why our own: node has no EventSource before 22, and the watch client needs what EventSource
 * hides — which event block carried the `id:` line (graftd puts it on the last change of a
 * revision only, so "this event has an id" means "this revision is complete"), the `event:` names
 * `progress`, `compacted` and `closed`, and a bound on how much one event may buffer.
 *
 * Rules followed from the format: lines end in CRLF, LF or CR (a CR at the end of a chunk waits
 * for the next one); a line starting with ':' is a comment; `field: value` drops one space after
 * the colon; a line without a colon is a field with an empty value; `data` lines join with '\n';
 * a blank line dispatches an event that has data; an `id` containing NUL is ignored; unknown
 * fields are ignored; a leading byte-order mark is dropped.
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` name, 'message' when absent. */
  readonly event: string;
  readonly data: string;
  /** The `id:` given in this event's own block (undefined when the block had none). */
  readonly id: string | undefined;
}

/** Thrown when one event (or one line) exceeds the parser's bound. */
export class SseTooLargeError extends Error {
  constructor(limit: number) {
    super(`an event-stream event is larger than ${limit} characters`);
    this.name = 'SseTooLargeError';
  }
}

/** Feed text chunks with push(); get back the events they completed. */
export class SseParser {
  readonly #maxEventChars: number;
  /** Text of an unfinished line. */
  #pending = '';
  /** The previous chunk ended in CR: a LF starting the next chunk belongs to it. */
  #afterCr = false;
  #started = false;
  #event = '';
  #data: string[] = [];
  #dataChars = 0;
  #hasData = false;
  #id: string | undefined;
  /** The stream's last event id (kept across events, as EventSource keeps it). */
  lastEventId = '';
  /** The last `retry:` value in ms (undefined when none was sent). */
  retryMs: number | undefined;

  constructor(maxEventChars = 64 * 1024 * 1024) {
    if (!(maxEventChars > 0)) throw new RangeError(`maxEventChars must be > 0, got ${maxEventChars}`);
    this.#maxEventChars = maxEventChars;
  }

  /** Parse `chunk` (any split of the stream); returns the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#afterCr && text.startsWith('\n')) text = text.slice(1);
    this.#afterCr = false;
    const out: SseEvent[] = [];
    let from = 0;
    for (;;) {
      const lf = text.indexOf('\n', from);
      const cr = text.indexOf('\r', from);
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      if (end < 0) break;
      const line = this.#pending + text.slice(from, end);
      this.#pending = '';
      this.#line(line, out);
      if (text[end] === '\r') {
        if (end + 1 === text.length) {
          this.#afterCr = true;
          from = end + 1;
          break;
        }
        from = text[end + 1] === '\n' ? end + 2 : end + 1;
      } else {
        from = end + 1;
      }
    }
    this.#pending += text.slice(from);
    if (this.#pending.length + this.#dataChars > this.#maxEventChars) throw new SseTooLargeError(this.#maxEventChars);
    return out;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === '') {
      this.#dispatch(out);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        this.#dataChars += value.length + 1;
        this.#hasData = true;
        if (this.#dataChars > this.#maxEventChars) throw new SseTooLargeError(this.#maxEventChars);
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.#id = value;
          this.lastEventId = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
  }

  #dispatch(out: SseEvent[]): void {
    if (this.#hasData) out.push({ event: this.#event === '' ? 'message' : this.#event, data: this.#data.join('\n'), id: this.#id });
    this.#event = '';
    this.#data = [];
    this.#dataChars = 0;
    this.#hasData = false;
    this.#id = undefined;
  }
}
