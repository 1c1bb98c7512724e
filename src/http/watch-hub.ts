/**
 * Watch streams over Server-Sent Events: the watchers of one server, fed from the node's applied
 * changes (src/kv/history.ts), each writing its own `text/event-stream`.
 *
 * Why one hub per server: every applied revision is offered to every watcher once, synchronously,
 * as it is applied — so a stream can never skip or reorder a revision — and a watcher only turns
 * the matching changes into text. Resuming is replay from the history, then the live feed, in
 * one synchronous step (nothing can be applied in between).
 *
 * Wire format (docs/api.md → Watch): one event per change, `data:` the change as JSON; the `id:`
 * line (the revision) is on the last change of each revision only, so `Last-Event-ID` always names a
 * revision whose changes were all delivered, and a stream cut in the middle of a multi-key revision
 * is resumed from that revision again. `event: progress` (with `id:`) when a stream was idle for a
 * progress interval; `event: compacted` then close when the node can no longer serve the next
 * revision (an installed snapshot jumped past it); `event: closed` then close when the client does
 * not read fast enough (the buffer bound) or the server shuts down.
 *
 * Bounds: watchers per server and per client address (503 GRAFTD_TOO_MANY_CONNECTIONS beyond),
 * bytes buffered per watcher (the socket's own buffer; beyond it the watcher is closed, never the
 * node slowed down).
 */
import type { ServerResponse } from 'node:http';
import type { KeyChange, RevisionChanges } from '../kv/history.ts';
import type { ChangeSource } from '../node/api.ts';

export interface WatchLimits {
  /** Watchers on this server (WATCH_MAX, default 10 000). */
  readonly maxWatchers: number;
  /** Watchers from one client address (WATCH_MAX_PER_ADDRESS, default 1000). */
  readonly maxPerAddress: number;
  /** Bytes a watcher may have waiting for its client before it is closed (WATCH_BUFFER_BYTES, default 4 MiB). */
  readonly maxBufferBytes: number;
  /** An idle stream gets a progress event this often (WATCH_PROGRESS_INTERVAL ms, default 5000). */
  readonly progressIntervalMs: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = {
  maxWatchers: 10_000,
  maxPerAddress: 1000,
  maxBufferBytes: 4 * 1024 * 1024,
  progressIntervalMs: 5000,
};

/** Which keys a watcher follows. */
export type WatchFilter = { readonly key: string } | { readonly prefix: string };

export interface WatchSpec {
  readonly filter: WatchFilter;
  /** The first revision to deliver. */
  readonly from: number;
  /** Include `prevValue` in each change. */
  readonly prevValue: boolean;
  readonly address: string;
}

/**
 * The JSON of each change, made once per change and form (with/without prevValue) however many
 * watchers receive it: with 1000 watchers on a prefix, formatting per watcher was most of the hub's
 * work (bench:watch). Weak: a change's text goes when its revision leaves the history.
 */
const changeTexts = new WeakMap<KeyChange, [string | undefined, string | undefined]>();

function changeJson(c: KeyChange, prevValue: boolean): string {
  let texts = changeTexts.get(c);
  if (texts === undefined) {
    texts = [undefined, undefined];
    changeTexts.set(c, texts);
  }
  const slot = prevValue && c.prevValue !== undefined ? 1 : 0;
  const made = texts[slot] ?? formatChange(c, slot === 1);
  texts[slot] = made;
  return made;
}

/** The JSON of one change as a watch event carries it. */
function formatChange(c: KeyChange, prevValue: boolean): string {
  const base =
    c.type === 'put'
      ? { type: c.type, key: c.key, value: c.value, createRevision: c.createRevision, modRevision: c.modRevision, version: c.version }
      : { type: c.type, key: c.key, createRevision: c.createRevision, modRevision: c.modRevision, version: c.version };
  return JSON.stringify(prevValue && c.prevValue !== undefined ? { ...base, prevValue: c.prevValue } : base);
}

class Watcher {
  readonly spec: WatchSpec;
  readonly #res: ServerResponse;
  readonly #match: (key: string) => boolean;
  readonly #maxBuffer: number;
  readonly #onEnd: (w: Watcher) => void;
  /** The next revision this stream may deliver. */
  next: number;
  /** Something was written since the last progress check. */
  #active = true;
  #ended = false;

  constructor(res: ServerResponse, spec: WatchSpec, maxBuffer: number, onEnd: (w: Watcher) => void) {
    this.#res = res;
    this.spec = spec;
    this.next = spec.from;
    this.#maxBuffer = maxBuffer;
    this.#onEnd = onEnd;
    const f = spec.filter;
    this.#match = 'key' in f ? (key) => key === f.key : (key) => key.startsWith(f.prefix);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Offer one applied revision (ignored when it is before this stream's position). */
  deliver(entry: RevisionChanges): void {
    if (this.#ended || entry.revision < this.next) return;
    this.next = entry.revision + 1;
    let text = '';
    let last: KeyChange | undefined;
    for (const c of entry.changes) {
      if (!this.#match(c.key)) continue;
      if (last !== undefined) text += `data: ${changeJson(last, this.spec.prevValue)}\n\n`;
      last = c;
    }
    if (last === undefined) return;
    text += `id: ${entry.revision}\ndata: ${changeJson(last, this.spec.prevValue)}\n\n`;
    this.#write(text);
  }

  /** Tell an idle stream how far it is up to date (`revision` = the node's applied revision). */
  progress(revision: number): void {
    if (this.#ended) return;
    if (this.#active) {
      this.#active = false;
      return;
    }
    // Only a stream that has everything up to `revision` may claim it (next = revision + 1 once caught up).
    if (this.next !== revision + 1 || this.#res.writableLength > 0) return;
    this.#write(`event: progress\nid: ${revision}\ndata: {"revision":${revision}}\n\n`);
    this.#active = false;
  }

  /** The node can no longer serve this stream's next revision. */
  compacted(oldest: number): void {
    this.end('compacted', { oldest, revision: this.next - 1 });
  }

  /** Write a last event and close. */
  end(event: 'compacted' | 'closed', data: Record<string, unknown>): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#res.destroyed) this.#res.end(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    this.#onEnd(this);
  }

  /** The client went away. */
  gone(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd(this);
  }

  #write(text: string): void {
    this.#active = true;
    this.#res.write(text);
    if (this.#res.writableLength > this.#maxBuffer) {
      this.end('closed', {
        reason: 'slow',
        message: `the client did not read fast enough (over ${this.#maxBuffer} bytes waiting); resume from the last event id`,
        revision: this.next - 1,
      });
    }
  }
}

/** Why a watch could not start. */
export type WatchRefusal =
  | { readonly refused: 'compacted'; readonly oldest: number }
  | { readonly refused: 'limit'; readonly message: string }
  | { readonly refused: 'closing' };

/** The watchers of one HTTP server. */
export class WatchHub {
  readonly #source: ChangeSource;
  readonly #limits: WatchLimits;
  readonly #watchers = new Set<Watcher>();
  readonly #perAddress = new Map<string, number>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(source: ChangeSource, limits: Partial<WatchLimits> = {}) {
    this.#source = source;
    this.#limits = { ...DEFAULT_WATCH_LIMITS, ...limits };
  }

  get size(): number {
    return this.#watchers.size;
  }

  /** Whether a watch of `spec` can start now (checked before the response is committed). */
  check(spec: WatchSpec): WatchRefusal | undefined {
    if (spec.from < this.#source.oldest) return { refused: 'compacted', oldest: this.#source.oldest };
    if (this.#closed) return { refused: 'closing' };
    if (this.#watchers.size >= this.#limits.maxWatchers)
      return { refused: 'limit', message: `this node serves at most ${this.#limits.maxWatchers} watchers (WATCH_MAX)` };
    if ((this.#perAddress.get(spec.address) ?? 0) >= this.#limits.maxPerAddress)
      return { refused: 'limit', message: `at most ${this.#limits.maxPerAddress} watchers per client address (WATCH_MAX_PER_ADDRESS)` };
    return undefined;
  }

  /**
   * Start streaming to `res` (headers already sent): replay the kept revisions from `spec.from`,
   * then follow live changes. Call check() first, in the same turn.
   */
  start(res: ServerResponse, spec: WatchSpec): void {
    this.#ensureFeed();
    const w = new Watcher(res, spec, this.#limits.maxBufferBytes, (gone) => this.#remove(gone));
    this.#watchers.add(w);
    this.#perAddress.set(spec.address, (this.#perAddress.get(spec.address) ?? 0) + 1);
    res.on('close', () => w.gone());
    for (const entry of this.#source.since(spec.from)) {
      w.deliver(entry);
      if (w.ended) return;
    }
  }

  /** End every stream (server shutdown): clients resume elsewhere from their last event id. */
  close(): void {
    this.#closed = true;
    for (const w of [...this.#watchers])
      w.end('closed', { reason: 'shutdown', message: 'the server is shutting down; resume on another node', revision: w.next - 1 });
    this.#stopFeed();
  }

  #ensureFeed(): void {
    if (this.#unsubscribe !== undefined) return;
    this.#unsubscribe = this.#source.onChange({
      changed: (entry) => {
        for (const w of this.#watchers) w.deliver(entry);
      },
      reset: (revision) => {
        for (const w of [...this.#watchers]) if (w.next <= revision) w.compacted(revision + 1);
      },
    });
    this.#timer = setInterval(() => {
      const revision = this.#source.revision;
      for (const w of this.#watchers) w.progress(revision);
    }, this.#limits.progressIntervalMs);
    this.#timer.unref();
  }

  #stopFeed(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #remove(w: Watcher): void {
    if (!this.#watchers.delete(w)) return;
    const n = (this.#perAddress.get(w.spec.address) ?? 1) - 1;
    if (n <= 0) this.#perAddress.delete(w.spec.address);
    else this.#perAddress.set(w.spec.address, n);
    if (this.#watchers.size === 0) this.#stopFeed();
  }
}
