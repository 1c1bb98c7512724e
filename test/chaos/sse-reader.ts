/**
 * A small Server-Sent Events reader over node:http for the chaos watchers.
 *
 * Why our own and not the client library's watch: the checker must see exactly what the server
 * sent — every event, its `id:` or the lack of one, where a connection broke — and decide itself
 * how to resume; a client that resumes for us would hide the very gaps and duplicates the checker
 * looks for. Bounded: one event at most `maxEventBytes`, and a stream silent for `idleTimeoutMs`
 * (the server sends progress events when idle) is given up.
 */
import type { Endpoint } from './http-json.ts';
import { requester, requestOptions } from './http-json.ts';

/** One dispatched event: `event` is `message` when the block had no `event:` line. */
export interface SseEvent {
  readonly event: string;
  /** The block's own `id:` (undefined when it had none). */
  readonly id: string | undefined;
  readonly data: string;
}

/** Why a stream ended. */
export type SseEnd =
  | { readonly kind: 'refused'; readonly status: number; readonly body: string }
  | { readonly kind: 'eof' }
  | { readonly kind: 'error'; readonly error: string }
  | { readonly kind: 'idle' }
  | { readonly kind: 'closed' };

export interface SseOptions {
  readonly headers?: Record<string, string>;
  readonly connectTimeoutMs: number;
  /** Give up when nothing arrived for this long. */
  readonly idleTimeoutMs: number;
  /** Largest event (bytes of its lines). */
  readonly maxEventBytes?: number;
}

/** Incremental parser of the event-stream format (lines end in LF, CRLF or CR). */
export class SseParser {
  readonly #onEvent: (e: SseEvent) => void;
  readonly #max: number;
  #buf = '';
  #event = '';
  #id: string | undefined;
  #data: string[] = [];
  #size = 0;
  #sawCr = false;

  constructor(onEvent: (e: SseEvent) => void, maxEventBytes = 1024 * 1024) {
    this.#onEvent = onEvent;
    this.#max = maxEventBytes;
  }

  /** Feed text; throws RangeError when an event grows past the bound. */
  push(text: string): void {
    let start = 0;
    let i = 0;
    if (this.#sawCr && text.startsWith('\n')) {
      start = 1;
      i = 1;
    }
    this.#sawCr = false;
    for (; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      this.#line(this.#buf + text.slice(start, i));
      this.#buf = '';
      if (ch === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else this.#sawCr = true;
      }
      start = i + 1;
    }
    this.#buf += text.slice(start);
    if (this.#buf.length + this.#size > this.#max) throw new RangeError(`an event is longer than ${this.#max} bytes`);
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0)
        this.#onEvent({ event: this.#event === '' ? 'message' : this.#event, id: this.#id, data: this.#data.join('\n') });
      this.#event = '';
      this.#id = undefined;
      this.#data = [];
      this.#size = 0;
      return;
    }
    this.#size += line.length;
    if (this.#size > this.#max) throw new RangeError(`an event is longer than ${this.#max} bytes`);
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
  }
}

/** An open stream: `done` settles once, however it ended; `close()` ends it from our side. */
export interface SseStream {
  readonly done: Promise<SseEnd>;
  close(): void;
}

/** GET `path` as an event stream; `onEvent` is called for every event, in order. */
export function openSse(ep: Endpoint, path: string, options: SseOptions, onEvent: (e: SseEvent) => void): SseStream {
  let finish: (e: SseEnd) => void = () => {};
  const done = new Promise<SseEnd>((r) => {
    finish = r;
  });
  let ended = false;
  const end = (e: SseEnd): void => {
    if (ended) return;
    ended = true;
    clearTimeout(idle);
    clearTimeout(connectTimer);
    req.destroy();
    finish(e);
  };
  let idle: NodeJS.Timeout | undefined;
  const touch = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => end({ kind: 'idle' }), options.idleTimeoutMs);
  };
  const headers = { accept: 'text/event-stream', ...options.headers };
  const req = requester(ep)(requestOptions(ep, path, 'GET', headers), (res) => {
    clearTimeout(connectTimer);
    res.setEncoding('utf8');
    if (res.statusCode !== 200) {
      let body = '';
      res.on('data', (c: string) => {
        if (body.length < 64 * 1024) body += c;
      });
      res.on('end', () => end({ kind: 'refused', status: res.statusCode ?? 0, body }));
      res.on('error', (err) => end({ kind: 'error', error: err.message }));
      return;
    }
    const parser = new SseParser((e) => {
      if (!ended) onEvent(e);
    }, options.maxEventBytes);
    touch();
    res.on('data', (c: string) => {
      if (ended) return;
      touch();
      try {
        parser.push(c);
      } catch (err) {
        end({ kind: 'error', error: (err as Error).message });
      }
    });
    res.on('end', () => end({ kind: 'eof' }));
    res.on('error', (err: NodeJS.ErrnoException) => end({ kind: 'error', error: err.code ?? err.message }));
  });
  req.on('error', (err: NodeJS.ErrnoException) => end({ kind: 'error', error: err.code ?? err.message }));
  const connectTimer = setTimeout(() => end({ kind: 'error', error: 'CONNECT_TIMEOUT' }), options.connectTimeoutMs);
  // Headers must come within the idle bound too (a paused node accepts connections but never answers).
  touch();
  req.end();
  return { done, close: () => end({ kind: 'closed' }) };
}
