/**
 * The client side of watch streams (GET /watch, docs/api.md → Watch): an async iterator of the
 * changes to a key or a prefix that survives disconnects, node restarts and leader changes.
 *
 * Why revisions, not events, are the unit: the server puts `id:` on the last change of each
 * revision only. Changes are buffered until that event arrives and handed over as one complete
 * revision; a stream cut in the middle of a revision loses the partial buffer and is resumed from
 * the last complete revision (`fromRevision` = it + 1) on the next endpoint — so the caller never
 * sees half a transaction, a revision twice, or revisions out of order, whichever nodes served it.
 *
 * Why rotate endpoints on every reconnect: the node that failed is the least likely to answer
 * next; the rotation comes back to it when it is the only one. A node that answers "compacted"
 * (its in-memory history no longer reaches our position, e.g. it restarted from a snapshot) may
 * be the only one: the others are asked before the caller gets WatchCompactedError.
 *
 * Bounds: consecutive failed attempts (maxFailures, with capped exponential backoff), the idle
 * time of a stream (idleTimeoutMs: the server sends progress events when idle), the characters
 * buffered for one revision (maxRevisionChars).
 */
import type { IncomingMessage } from 'node:http';
import type { KeyChange } from '../kv/history.ts';
import { backoffMs } from './backoff.ts';
import { GraftdClientError } from './errors.ts';
import { SseParser, SseTooLargeError } from './sse.ts';
import { tlsReason } from './tls-errors.ts';
import { BODY_TIMEOUT_CODE, type HttpTransport, TransportFailure } from './transport.ts';

/**
 * One change of one key, as a watch delivers it: the server's change record (src/kv/history.ts), one
 * definition for both sides (a type-only import: nothing of the server is loaded). With
 * `prevValue: true` it carries the value before the change, when the key existed.
 */
export type WatchEvent = KeyChange;

/** All the watched changes of one revision, in the order they were applied. */
export interface WatchRevision {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
}

/** Options of {@link GraftdClient.watch}. Give exactly one of `key` and `prefix`. */
export interface WatchOptions {
  readonly key?: string;
  /** Every key starting with this ('' = every key). */
  readonly prefix?: string;
  /** The first revision to deliver (≥ 1). Default: from now (the serving node's applied revision + 1). */
  readonly fromRevision?: number;
  /** Include each change's previous value. */
  readonly prevValue?: boolean;
  /** Ends the iteration (no error) when aborted. */
  readonly signal?: AbortSignal;
  /**
   * A stream without any data for this long (changes or the server's idle progress events, sent
   * every WATCH_PROGRESS_INTERVAL, 5 s by default) is given up and resumed elsewhere; also the
   * longest wait for a stream's answer. Keep it above twice the servers' progress interval.
   * Default 15000.
   */
  readonly idleTimeoutMs?: number;
  /** First reconnect delay after a failed attempt; doubles per failure (with jitter). Default 100. */
  readonly backoffBaseMs?: number;
  /** Cap on one reconnect delay. Default 2000. */
  readonly backoffMaxMs?: number;
  /**
   * Consecutive attempts that delivered nothing (refused, failed, compacted, closed at once)
   * before the iteration throws the last error. Default 100 (about 3 minutes at the default backoff).
   */
  readonly maxFailures?: number;
  /** Longest revision accepted, in characters of event data. Default 64 Mi. */
  readonly maxRevisionChars?: number;
  /** Called before each connection attempt (logs, tests): the endpoint and the revision asked for. */
  readonly onConnect?: (info: { readonly endpoint: string; readonly fromRevision: number | undefined }) => void;
}

/** The watch's next revision is older than any endpoint keeps (their in-memory history moved past it). */
export class WatchCompactedError extends GraftdClientError {
  /** The oldest revision a watch can start from (on the endpoint that keeps the most). */
  readonly oldest: number;
  /** The revision the watch needed next. */
  readonly revision: number;
  constructor(endpoint: string, revision: number, oldest: number) {
    super(
      'GRAFTD_REVISION_COMPACTED',
      `${endpoint}: revision ${revision} is no longer kept; the oldest a watch can start from is ${oldest} (read the current state and watch from its revision + 1)`,
      { status: 410, endpoint },
    );
    this.name = 'WatchCompactedError';
    this.oldest = oldest;
    this.revision = revision;
  }
}

/** What a watch needs from its GraftdClient. */
export interface WatchDeps {
  readonly transport: HttpTransport;
  /** The Authorization header value ('' for none). */
  readonly authorization: string;
  /** The endpoints to use, best first (read again on every reconnect). */
  readonly endpoints: () => readonly string[];
  /** Aborted when the client closes (ends every watch: the transport waits for open streams). */
  readonly closing: AbortSignal;
}

const DEFAULTS = { idleTimeoutMs: 15_000, backoffBaseMs: 100, backoffMaxMs: 2000, maxFailures: 100, maxRevisionChars: 64 * 1024 * 1024 };

function badArgument(message: string): GraftdClientError {
  return new GraftdClientError('GRAFTD_CLIENT_BAD_ARGUMENT', message);
}

function checkOptions(o: WatchOptions): void {
  if ((o.key === undefined) === (o.prefix === undefined)) throw badArgument('watch needs exactly one of key and prefix');
  if (o.fromRevision !== undefined && !(Number.isSafeInteger(o.fromRevision) && o.fromRevision >= 1))
    throw badArgument(`fromRevision must be a whole number ≥ 1, got ${o.fromRevision}`);
  for (const name of ['idleTimeoutMs', 'backoffBaseMs', 'backoffMaxMs', 'maxFailures', 'maxRevisionChars'] as const) {
    const v = o[name];
    if (v !== undefined && !(v > 0)) throw badArgument(`${name} must be > 0, got ${v}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function nonNegative(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A change event's data, checked against the documented shape (null when it does not match). */
export function parseChange(data: string): WatchEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isRecord(v) || (v.type !== 'put' && v.type !== 'delete') || typeof v.key !== 'string') return null;
  if (!nonNegative(v.createRevision) || !nonNegative(v.modRevision) || !nonNegative(v.version)) return null;
  if (v.type === 'put' && typeof v.value !== 'string') return null;
  if (v.prevValue !== undefined && typeof v.prevValue !== 'string') return null;
  return v as unknown as WatchEvent;
}

function revisionOf(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return null;
  return Number(text);
}

function badResponse(endpoint: string, what: string): GraftdClientError {
  return new GraftdClientError('GRAFTD_CLIENT_BAD_RESPONSE', `${endpoint}: watch stream: ${what}`, { endpoint });
}

/** Sleep `ms`, ending early when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** One watch: its position, its failures, and the endpoints that said "compacted" at that position. */
class WatchRun {
  readonly #deps: WatchDeps;
  readonly #o: WatchOptions & typeof DEFAULTS;
  readonly #stop: AbortSignal;
  /** The next revision to deliver (undefined until the first stream tells where "now" is). */
  #next: number | undefined;
  #failures = 0;
  /** The current attempt delivered a revision or a progress event. */
  #healthy = false;
  #lastError: GraftdClientError | null = null;
  #lastEndpoint: string | undefined;
  /** Endpoint → its oldest kept revision, for those that could not serve #next. */
  readonly #compacted = new Map<string, number>();
  /** Errors that no reconnect can fix (bad request, credentials, TLS, an oversized revision). */
  readonly #fatal = new WeakSet<Error>();

  constructor(deps: WatchDeps, options: WatchOptions) {
    checkOptions(options);
    this.#deps = deps;
    this.#o = { ...DEFAULTS, ...options };
    this.#stop = options.signal === undefined ? deps.closing : AbortSignal.any([deps.closing, options.signal]);
    this.#next = options.fromRevision;
  }

  async *run(): AsyncGenerator<WatchRevision, void, undefined> {
    while (!this.#stop.aborted) {
      if (this.#failures > 0) await pause(backoffMs(this.#failures - 1, this.#o.backoffBaseMs, this.#o.backoffMaxMs), this.#stop);
      if (this.#stop.aborted) return;
      const endpoint = this.#pick();
      this.#healthy = false;
      try {
        const body = await this.#open(endpoint);
        yield* this.#follow(endpoint, body);
      } catch (err) {
        if (this.#stop.aborted) return;
        this.#failed(endpoint, err);
      }
      // A stream that delivered something is reconnected at once; an attempt that delivered nothing waits.
      if (!this.#healthy) this.#failures++;
      if (this.#failures >= this.#o.maxFailures) throw this.#givingUp();
    }
  }

  /** The next endpoint after the one used last (the same one when it is the only one). */
  #pick(): string {
    const list = this.#deps.endpoints();
    if (list.length === 0) throw badArgument('no endpoints to watch from');
    const at = this.#lastEndpoint === undefined ? -1 : list.indexOf(this.#lastEndpoint);
    this.#lastEndpoint = list[(at + 1) % list.length]!;
    return this.#lastEndpoint;
  }

  #path(): string {
    const o = this.#o;
    const filter = o.key !== undefined ? `key=${encodeURIComponent(o.key)}` : `prefix=${encodeURIComponent(o.prefix ?? '')}`;
    const from = this.#next === undefined ? '' : `&fromRevision=${this.#next}`;
    return `/watch?${filter}${from}${o.prevValue === true ? '&prevValue=true' : ''}`;
  }

  /** Open a stream on `endpoint` at #next; resolves with its body, or throws what it answered instead. */
  async #open(endpoint: string): Promise<IncomingMessage> {
    this.#o.onConnect?.({ endpoint, fromRevision: this.#next });
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.#deps.authorization !== '') headers.authorization = this.#deps.authorization;
    let answer: Awaited<ReturnType<HttpTransport['request']>>;
    try {
      answer = await this.#deps.transport.request(
        endpoint,
        { method: 'GET', path: this.#path(), headers, stream: true },
        this.#o.idleTimeoutMs,
        this.#stop,
      );
    } catch (err) {
      throw this.#transportError(endpoint, err);
    }
    if (answer.status === 200 && answer.body !== null) {
      if (this.#next === undefined) {
        const now = revisionOf(answer.headers['x-graftd-revision']);
        if (now === null) {
          answer.body.destroy();
          throw this.#mark(badResponse(endpoint, 'no X-Graftd-Revision header on the answer'));
        }
        this.#next = now + 1;
      }
      return answer.body;
    }
    answer.body?.destroy();
    throw this.#answerError(endpoint, answer.status, answer.text);
  }

  /** Read one stream, yielding each complete revision; returns when the server ends it. */
  async *#follow(endpoint: string, body: IncomingMessage): AsyncGenerator<WatchRevision, void, undefined> {
    const parser = new SseParser(this.#o.maxRevisionChars);
    let pending: WatchEvent[] = [];
    let pendingChars = 0;
    const onAbort = (): void => {
      body.destroy();
    };
    this.#stop.addEventListener('abort', onAbort, { once: true });
    body.setEncoding('utf8');
    try {
      for await (const chunk of body as AsyncIterable<string>) {
        for (const ev of parser.push(chunk)) {
          if (ev.event === 'message') {
            const change = parseChange(ev.data);
            if (change === null) throw badResponse(endpoint, `a change event that is not a change: ${ev.data.slice(0, 80)}`);
            pending.push(change);
            pendingChars += ev.data.length;
            if (pendingChars > this.#o.maxRevisionChars)
              throw this.#mark(
                badResponse(endpoint, `one revision is larger than ${this.#o.maxRevisionChars} characters (maxRevisionChars)`),
              );
            if (ev.id === undefined) continue;
            const batch = pending;
            pending = [];
            pendingChars = 0;
            const revision = this.#complete(endpoint, ev.id, batch);
            if (revision !== null) yield revision;
          } else if (ev.event === 'progress') {
            const revision = revisionOf(ev.id);
            if (revision === null || pending.length > 0)
              throw badResponse(endpoint, `a progress event in the middle of a revision or without id`);
            this.#advance(revision + 1);
          } else if (ev.event === 'compacted') {
            const data = JSON.parse(ev.data) as { oldest?: unknown };
            throw new WatchCompactedError(endpoint, this.#next ?? 0, nonNegative(data.oldest) ? data.oldest : (this.#next ?? 0) + 1);
          } else if (ev.event === 'closed') {
            this.#lastError = new GraftdClientError(
              'GRAFTD_UNAVAILABLE',
              `${endpoint}: the server closed the watch: ${ev.data.slice(0, 200)}`,
              {
                endpoint,
              },
            );
            return;
          }
        }
      }
      this.#lastError = new GraftdClientError('GRAFTD_CLIENT_CONNECTION_LOST', `${endpoint}: the watch stream ended`, { endpoint });
    } catch (err) {
      if (err instanceof SseTooLargeError) throw this.#mark(badResponse(endpoint, `${err.message} (maxRevisionChars)`));
      throw err instanceof GraftdClientError ? err : this.#transportError(endpoint, err);
    } finally {
      this.#stop.removeEventListener('abort', onAbort);
      body.destroy();
    }
  }

  /** The revision an event with `id` completes, or null when it was delivered already. */
  #complete(endpoint: string, id: string, batch: WatchEvent[]): WatchRevision | null {
    const revision = revisionOf(id);
    if (revision === null) throw badResponse(endpoint, `an event id that is not a revision: ${JSON.stringify(id.slice(0, 40))}`);
    const wrong = batch.find((e) => e.modRevision !== revision);
    if (wrong !== undefined) throw badResponse(endpoint, `a change of revision ${wrong.modRevision} under id ${revision}`);
    if (this.#next !== undefined && revision < this.#next) return null;
    this.#advance(revision + 1);
    return { revision, events: batch };
  }

  /** Everything below `next` is delivered: the stream is healthy. */
  #advance(next: number): void {
    this.#failures = 0;
    this.#healthy = true;
    this.#lastError = null;
    if (this.#next === undefined || next > this.#next) {
      this.#next = next;
      this.#compacted.clear();
    }
  }

  #failed(endpoint: string, err: unknown): void {
    if (!(err instanceof GraftdClientError)) throw err;
    if (this.#fatal.has(err)) throw err;
    this.#lastError = err;
    if (err instanceof WatchCompactedError) {
      this.#compacted.set(endpoint, err.oldest);
      const all = new Set(this.#deps.endpoints());
      if ([...all].every((e) => this.#compacted.has(e))) throw this.#compactedError();
    }
  }

  #givingUp(): GraftdClientError {
    if (this.#compacted.size > 0) return this.#compactedError();
    const last = this.#lastError;
    return new GraftdClientError(
      last?.code ?? 'GRAFTD_CLIENT_UNREACHABLE',
      `watch gave up after ${this.#failures} attempts in a row delivered nothing${last === null ? '' : `; the last: ${last.message}`}`,
      { status: last?.status ?? 0, endpoint: last?.endpoint ?? '', ...(last === null ? {} : { cause: last }) },
    );
  }

  #compactedError(): WatchCompactedError {
    let best: [string, number] = ['', 0];
    for (const [endpoint, oldest] of this.#compacted) if (best[0] === '' || oldest < best[1]) best = [endpoint, oldest];
    return new WatchCompactedError(best[0], this.#next ?? 0, best[1]);
  }

  #mark(err: GraftdClientError): GraftdClientError {
    this.#fatal.add(err);
    return err;
  }

  /** A refusal: 410 is "compacted here"; 503 and other 5xx are retried; other 4xx are final. */
  #answerError(endpoint: string, status: number, text: string): GraftdClientError {
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (isRecord(parsed)) body = parsed;
    } catch {
      // not JSON: described by status below
    }
    if (status === 410 && nonNegative(body.oldest)) return new WatchCompactedError(endpoint, this.#next ?? 0, body.oldest);
    const code = typeof body.code === 'string' && /^GRAFTD_[A-Z_]+$/.test(body.code) ? body.code : undefined;
    const fallback = status === 401 ? 'GRAFTD_UNAUTHORIZED' : status === 403 ? 'GRAFTD_FORBIDDEN' : 'GRAFTD_CLIENT_BAD_RESPONSE';
    const message =
      typeof body.error === 'string' ? body.error : `HTTP ${status}${status === 404 ? ' (a server without GET /watch?)' : ''}`;
    const err = new GraftdClientError((code ?? fallback) as GraftdClientError['code'], `${endpoint}: ${message}`, { status, endpoint });
    return status >= 500 ? err : this.#mark(err);
  }

  #transportError(endpoint: string, err: unknown): GraftdClientError {
    const codes: string[] = [];
    for (let e: unknown = err, depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string') codes.push(code);
      e = (e as { cause?: unknown }).cause;
    }
    const cause = err instanceof TransportFailure ? err.cause : err;
    const tls = tlsReason(codes, cause);
    if (tls !== null) return this.#mark(new GraftdClientError('GRAFTD_CLIENT_TLS', `${endpoint}: ${tls}`, { endpoint, cause: err }));
    const timedOut = codes.includes(BODY_TIMEOUT_CODE) || (err instanceof TransportFailure && err.timedOut);
    const message = err instanceof Error ? err.message : String(err);
    if (timedOut)
      return new GraftdClientError('GRAFTD_CLIENT_TIMEOUT', `${endpoint}: no data on the watch for ${this.#o.idleTimeoutMs} ms`, {
        endpoint,
        cause: err,
      });
    const phase = err instanceof TransportFailure ? err.phase : 'answering';
    const code = phase === 'connect' ? 'GRAFTD_CLIENT_UNREACHABLE' : 'GRAFTD_CLIENT_CONNECTION_LOST';
    return new GraftdClientError(code, `${endpoint}: ${message}`, { endpoint, cause: err });
  }
}

/** The complete revisions of a watch (see the module comment). */
export function watchRevisions(deps: WatchDeps, options: WatchOptions): AsyncGenerator<WatchRevision, void, undefined> {
  return new WatchRun(deps, options).run();
}

/** The changes of a watch, one at a time, each only once its revision is complete. */
export function watchChanges(deps: WatchDeps, options: WatchOptions): AsyncGenerator<WatchEvent, void, undefined> {
  // Built now, so bad options throw at the call, not at the first next().
  const revisions = new WatchRun(deps, options).run();
  return (async function* flatten() {
    for await (const revision of revisions) yield* revision.events;
  })();
}
