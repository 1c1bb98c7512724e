/**
 * The soak's workload: a paced mix of writes, deletes, linearizable and stale reads over a fixed
 * key space, spread round-robin over every node (so follower forwarding and follower reads run
 * too), with latencies collected per minute.
 *
 * Why paced (a target rate) rather than closed-loop: a soak measures whether the cluster stays
 * the same over time, so the offered load must stay the same; a closed loop at full speed would
 * also starve the other work on a shared 2-core machine. Why a retry on 503 / refused
 * connections: that is what the client library does (it retries only what provably had no
 * effect, src/client/client.ts), so an "error" here is a failure an application would see — a
 * leader transfer's brief "no leader" answers are retried, not counted.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { backoffMs, sleep } from '../../src/client/backoff.ts';
import { LatencyRecorder } from './stats.ts';

export type SoakOp = 'write' | 'delete' | 'read' | 'stale';

/** Share of each operation, in percent (they must add up to 100). */
export type SoakMix = Readonly<Record<SoakOp, number>>;

export const DEFAULT_MIX: SoakMix = { write: 35, delete: 10, read: 30, stale: 25 };

export interface SoakLoadOptions {
  readonly endpoints: readonly string[];
  /** Offered operations per second (all kinds together). */
  readonly rate: number;
  /** Most requests in flight at once; slots that find every worker busy for over a second are skipped (counted). */
  readonly concurrency: number;
  /** Keys are `soak-0` … `soak-<keys-1>`. */
  readonly keys: number;
  /** Value sizes are uniform in [min, max] bytes. */
  readonly valueBytes: readonly [number, number];
  readonly mix: SoakMix;
  /** Time allowed for one HTTP attempt (headers and body). */
  readonly requestTimeoutMs: number;
  /** Extra attempts after the first for answers that provably had no effect (503, refused connection). */
  readonly retries: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

/** One minute (or any window) of load: latency of successful requests, counts, errors by kind. */
export interface LoadWindow {
  readonly latency: LatencyRecorder;
  readonly byOp: Record<SoakOp, number>;
  /** Requests that needed at least one retry (and then succeeded or failed). */
  retried: number;
  /** Pacing slots skipped because every worker was busy (the cluster fell behind the offered rate). */
  skipped: number;
}

function newWindow(): LoadWindow {
  return { latency: new LatencyRecorder(200_000), byOp: { write: 0, delete: 0, read: 0, stale: 0 }, retried: 0, skipped: 0 };
}

export const soakKey = (i: number): string => `soak-${i}`;

/** An attempt's outcome: ok, retry (provably no effect), or a final error description. */
type Attempt = { readonly kind: 'ok' } | { readonly kind: 'retry' | 'error'; readonly what: string };

const VALUE_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A steady load on the cluster until `stop()`; `takeWindow()` hands over the numbers since the last call. */
export class SoakLoad {
  readonly #opts: SoakLoadOptions;
  readonly #pools: Pool[];
  #window = newWindow();
  #stopping = false;
  #workers: Promise<void>[] = [];
  /** Pacing: the time (performance.now) of the next slot to be taken. */
  #nextSlot = 0;
  readonly #cumulative: Record<SoakOp, number>;
  readonly #valuePool: string;

  constructor(opts: SoakLoadOptions) {
    const total = Object.values(opts.mix).reduce((a, b) => a + b, 0);
    if (Math.abs(total - 100) > 1e-9) throw new Error(`the operation mix must add up to 100 %, found ${total}`);
    this.#opts = opts;
    this.#pools = opts.endpoints.map(
      (e) =>
        new Pool(e, {
          connections: Math.max(1, Math.ceil(opts.concurrency / opts.endpoints.length) + 1),
          pipelining: 1,
          headersTimeout: opts.requestTimeoutMs,
          bodyTimeout: opts.requestTimeoutMs,
        }),
    );
    this.#cumulative = { write: 0, delete: 0, read: 0, stale: 0 };
    // Values are slices of one random string: no allocation per request beyond the slice.
    const max = opts.valueBytes[1];
    this.#valuePool = Array.from({ length: 2 * max }, () => VALUE_CHARS[Math.floor(Math.random() * VALUE_CHARS.length)]).join('');
  }

  /** Write a `share` (0..1) of the keys once, so reads find data and the key count starts near its steady state. */
  async preload(share: number, concurrency = 16): Promise<number> {
    const wanted = Array.from({ length: this.#opts.keys }, (_, i) => i).filter(() => Math.random() < share);
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        for (let i = next++; i < wanted.length; i = next++) {
          const res = await this.#request('write', w % this.#pools.length, soakKey(wanted[i]!), this.#value());
          if (res.kind !== 'ok') failed++;
        }
      }),
    );
    return failed;
  }

  /** Start the workers. */
  start(): void {
    this.#nextSlot = performance.now();
    this.#workers = Array.from({ length: this.#opts.concurrency }, (_, w) => this.#worker(w));
  }

  /** The numbers since the previous call; a new window starts. */
  takeWindow(): LoadWindow {
    const w = this.#window;
    this.#window = newWindow();
    return w;
  }

  /** Operations done since start, by kind. */
  totals(): Readonly<Record<SoakOp, number>> {
    return this.#cumulative;
  }

  /** Stop taking new slots, wait for requests in flight (each bounded by its timeout and retries), close the pools. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#workers);
    await Promise.all(this.#pools.map((p) => p.close()));
  }

  #value(): string {
    const [min, max] = this.#opts.valueBytes;
    const len = min + Math.floor(Math.random() * (max - min + 1));
    const start = Math.floor(Math.random() * (this.#valuePool.length - len));
    return this.#valuePool.slice(start, start + len);
  }

  #pickOp(): SoakOp {
    let r = Math.random() * 100;
    for (const op of ['write', 'delete', 'read', 'stale'] as const) {
      r -= this.#opts.mix[op];
      if (r < 0) return op;
    }
    return 'stale';
  }

  /** Take the next pacing slot: returns how long to wait for it, or undefined to stop. */
  #takeSlot(): number | undefined {
    if (this.#stopping) return undefined;
    const now = performance.now();
    const interval = 1000 / this.#opts.rate;
    // More than a second behind (every worker was busy): skip the missed slots, bounded catch-up.
    if (now - this.#nextSlot > 1000) {
      this.#window.skipped += Math.floor((now - this.#nextSlot) / interval);
      this.#nextSlot = now;
    }
    const slot = this.#nextSlot;
    this.#nextSlot += interval;
    return Math.max(0, slot - now);
  }

  async #worker(w: number): Promise<void> {
    let endpoint = w % this.#pools.length;
    for (;;) {
      const wait = this.#takeSlot();
      if (wait === undefined) return;
      if (wait > 0) await sleep(wait);
      if (this.#stopping) return;
      endpoint = (endpoint + 1) % this.#pools.length;
      const op = this.#pickOp();
      const key = soakKey(Math.floor(Math.random() * this.#opts.keys));
      const window = this.#window;
      const t0 = performance.now();
      let res = await this.#request(op, endpoint, key, op === 'write' ? this.#value() : '');
      let retry = 0;
      while (res.kind === 'retry' && retry < this.#opts.retries) {
        await sleep(backoffMs(retry++, this.#opts.backoffBaseMs, this.#opts.backoffMaxMs));
        // Another node may know better (the client library moves on too).
        endpoint = (endpoint + 1) % this.#pools.length;
        res = await this.#request(op, endpoint, key, op === 'write' ? this.#value() : '');
      }
      const t1 = performance.now();
      if (retry > 0) window.retried++;
      this.#cumulative[op]++;
      window.byOp[op]++;
      if (res.kind === 'ok') {
        window.latency.ok++;
        window.latency.record(t1 - t0);
      } else window.latency.error(`${op} ${res.what}`);
    }
  }

  async #request(op: SoakOp, endpoint: number, key: string, value: string): Promise<Attempt> {
    const pool = this.#pools[endpoint]!;
    const path = `/key/${encodeURIComponent(key)}`;
    try {
      const res =
        op === 'write'
          ? await pool.request({
              method: 'POST',
              path: '/key',
              body: JSON.stringify({ [key]: value }),
              headers: { 'content-type': 'application/json' },
            })
          : op === 'delete'
            ? await pool.request({ method: 'DELETE', path })
            : await pool.request({ method: 'GET', path: op === 'stale' ? `${path}?level=stale` : path });
      // A missing key is a normal answer to a read (deletes run alongside).
      if (res.statusCode === 200 || (res.statusCode === 404 && (op === 'read' || op === 'stale'))) {
        await res.body.dump();
        return { kind: 'ok' };
      }
      const text = await res.body.text();
      let code = '';
      try {
        code = String((JSON.parse(text) as { code?: unknown }).code ?? '');
      } catch {}
      const what = `${res.statusCode}${code === '' ? '' : ` ${code}`}`;
      // 503: not applied (no leader, shutting down, transfer in progress); reads may retry any 5xx.
      const retryable = res.statusCode === 503 || ((op === 'read' || op === 'stale') && res.statusCode >= 500);
      return { kind: retryable ? 'retry' : 'error', what };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const what = typeof code === 'string' ? code : String(err);
      // Refused: the request was never sent. Reads may retry anything.
      const retryable = code === 'ECONNREFUSED' || op === 'read' || op === 'stale';
      return { kind: retryable ? 'retry' : 'error', what };
    }
  }
}
