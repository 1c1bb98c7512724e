/**
 * The watcher side of the watch benchmark (issue 14), run in a worker thread: opens its share of
 * the watch streams (each its own HTTP connection), and for every change that arrives records the
 * latency from the write's send time (carried in the value) to the chunk's arrival, and which
 * write it was, per watcher — so the main thread can count what is missing or repeated.
 *
 * Why a worker thread: reading ~1 M events/s would otherwise delay the paced writer in the main
 * thread. Why node:http and a scan for `"value":"` rather than an SSE/JSON parser: the client must
 * cost as little CPU as it can next to the nodes it measures; both wire formats carry the value as
 * a JSON string field, and the benchmark's keys never contain that text.
 *
 * Values are `<seq>:<send time, epoch ms>`: graftd sends them as they are, etcd base64-encoded.
 * Times are `performance.timeOrigin + performance.now()` in both threads (the same clock).
 */
import { request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { WatchHistogram } from './watch-hist.ts';

export type WatchSystem = 'graftd' | 'etcd';

export interface StreamsConfig {
  readonly system: WatchSystem;
  /** Base URLs (http://ip:port), one per node; watcher `first + i` goes to endpoint (first + i) mod n. */
  readonly endpoints: readonly string[];
  readonly prefix: string;
  /** Global index of this thread's first watcher, and how many it opens. */
  readonly first: number;
  readonly count: number;
  /** Upper bound of write sequence numbers (size of each watcher's seen-map). */
  readonly maxSeq: number;
  /** How long opening one stream may take (ms). */
  readonly openTimeoutMs: number;
  /**
   * Local source addresses: watcher `first + i` connects from sources[floor((first + i) / perSource)]
   * (graftd closes connections beyond 256 per client address, src/http/conn-limit.ts; this keeps
   * every address under it on every node without changing the node's limits).
   */
  readonly sources: readonly string[];
  readonly perSource: number;
}

/** Main thread → worker. */
export type ToStreams = { readonly type: 'count' } | { readonly type: 'finish'; readonly acked: Uint8Array };

/** Worker → main thread. */
export type FromStreams =
  | { readonly type: 'ready'; readonly opened: number; readonly failed: number; readonly failures: readonly string[] }
  | { readonly type: 'count'; readonly delivered: number }
  | {
      readonly type: 'done';
      readonly counts: Float64Array;
      readonly max: number;
      readonly delivered: number;
      /** Deliveries of a write this watcher had already received. */
      readonly duplicates: number;
      /** (watcher, acknowledged write) pairs never delivered. */
      readonly missing: number;
      /** Deliveries of writes that were not acknowledged (or unparsable values). */
      readonly unexpected: number;
      /** Streams the server ended or that failed during the run (graftd `event: closed`/`compacted`, etcd `canceled`, socket end). */
      readonly ended: number;
      readonly endReasons: readonly string[];
    };

const now = (): number => performance.timeOrigin + performance.now();
const MARK = '"value":"';

class Stream {
  readonly seen: Uint8Array;
  carry = '';
  ended = false;

  constructor(maxSeq: number) {
    this.seen = new Uint8Array(maxSeq);
  }
}

function main(): void {
  const cfg = workerData as StreamsConfig;
  const port = parentPort;
  if (port === null) throw new Error('watch-streams.ts runs as a worker thread');
  const hist = new WatchHistogram();
  const streams: Stream[] = [];
  const failures: string[] = [];
  const endReasons: string[] = [];
  let delivered = 0;
  let duplicates = 0;
  let unexpected = 0;
  let ended = 0;
  let finishing = false;
  const requests: { destroy(): void }[] = [];

  const noteEnd = (s: Stream, reason: string): void => {
    if (s.ended || finishing) return;
    s.ended = true;
    ended++;
    if (endReasons.length < 8) endReasons.push(reason);
  };

  const onText = (s: Stream, text: string, at: number): void => {
    let pos = text.indexOf(MARK);
    while (pos !== -1) {
      const start = pos + MARK.length;
      const end = text.indexOf('"', start);
      if (end === -1) break;
      const raw = text.slice(start, end);
      const value = cfg.system === 'etcd' ? Buffer.from(raw, 'base64').toString('latin1') : raw;
      const colon = value.indexOf(':');
      const seq = colon > 0 ? Number(value.slice(0, colon)) : Number.NaN;
      delivered++;
      if (!Number.isInteger(seq) || seq < 0 || seq >= cfg.maxSeq) unexpected++;
      else if (s.seen[seq] !== 0) duplicates++;
      else {
        s.seen[seq] = 1;
        hist.record(at - Number(value.slice(colon + 1)));
      }
      pos = text.indexOf(MARK, end);
    }
    if (cfg.system === 'graftd') {
      const ev = /^event: (closed|compacted)\ndata: (.*)$/m.exec(text);
      if (ev !== null) noteEnd(s, `${ev[1]} ${ev[2]!.slice(0, 160)}`);
    } else if (text.includes('"canceled":true')) noteEnd(s, `canceled ${text.slice(0, 160)}`);
  };

  const open = (index: number): Promise<string | undefined> =>
    new Promise((resolve) => {
      const url = new URL(cfg.endpoints[index % cfg.endpoints.length]!);
      const s = new Stream(cfg.maxSeq);
      const etcd = cfg.system === 'etcd';
      const body = etcd
        ? JSON.stringify({
            create_request: {
              key: Buffer.from(cfg.prefix).toString('base64'),
              range_end: prefixEnd(cfg.prefix).toString('base64'),
            },
          })
        : undefined;
      const req = request({
        host: url.hostname,
        port: url.port,
        method: etcd ? 'POST' : 'GET',
        path: etcd ? '/v3/watch' : `/watch?prefix=${encodeURIComponent(cfg.prefix)}`,
        agent: false,
        localAddress: cfg.sources[Math.floor(index / cfg.perSource) % cfg.sources.length],
        headers: etcd ? { 'content-type': 'application/json' } : { accept: 'text/event-stream' },
      });
      requests.push(req);
      let settled = false;
      const settle = (failure: string | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(failure);
      };
      const timer = setTimeout(() => {
        settle(`no watch established within ${cfg.openTimeoutMs} ms`);
        req.destroy();
      }, cfg.openTimeoutMs);
      req.on('error', (err) => {
        settle(String((err as { code?: string }).code ?? err.message));
        noteEnd(s, `error ${(err as { code?: string }).code ?? err.message}`);
      });
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          res.setEncoding('utf8');
          let text = '';
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => settle(`${res.statusCode} ${text.slice(0, 200)}`));
          return;
        }
        res.setEncoding('utf8');
        // graftd: established once the 200 arrives (the stream starts at the node's applied
        // revision + 1); etcd: once its first message, `"created":true`, arrives.
        if (!etcd) {
          streams.push(s);
          settle(undefined);
        }
        res.on('data', (chunk: string) => {
          const at = now();
          if (etcd && !settled) {
            if (!chunk.includes('"created":true')) return settle(`unexpected first message ${chunk.slice(0, 200)}`);
            streams.push(s);
            settle(undefined);
          }
          const text = s.carry + chunk;
          const last = text.lastIndexOf('\n');
          if (last === -1) {
            s.carry = text;
            return;
          }
          s.carry = text.slice(last + 1);
          onText(s, text.slice(0, last), at);
        });
        res.on('end', () => noteEnd(s, 'the server ended the stream'));
        res.on('error', (err) => noteEnd(s, `error ${err.message}`));
      });
      req.end(body);
    });

  port.on('message', (msg: ToStreams) => {
    if (msg.type === 'count') {
      port.postMessage({ type: 'count', delivered } satisfies FromStreams);
      return;
    }
    finishing = true;
    let missing = 0;
    for (const s of streams) {
      for (let seq = 0; seq < cfg.maxSeq; seq++) {
        if (msg.acked[seq] === 1 && s.seen[seq] === 0) missing++;
        else if (msg.acked[seq] !== 1 && s.seen[seq] === 1) unexpected++;
      }
    }
    for (const r of requests) r.destroy();
    const done: FromStreams = {
      type: 'done',
      counts: hist.counts,
      max: hist.max,
      delivered,
      duplicates,
      missing,
      unexpected,
      ended,
      endReasons,
    };
    port.postMessage(done);
  });

  void (async () => {
    // Open in batches so 1,000 connection attempts do not all wait on one accept queue at once.
    const batch = 50;
    for (let i = 0; i < cfg.count; i += batch) {
      const results = await Promise.all(
        Array.from({ length: Math.min(batch, cfg.count - i) }, (_, j) => open(cfg.first + i + j)),
      );
      for (const r of results) if (r !== undefined && failures.length < 8) failures.push(r);
    }
    const opened = streams.length;
    port.postMessage({ type: 'ready', opened, failed: cfg.count - opened, failures } satisfies FromStreams);
  })();
}

/** etcd's range_end for a prefix: the prefix with its last byte incremented. */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]! += 1;
      return b.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

if (parentPort !== null && (workerData as { system?: unknown } | null)?.system !== undefined) main();
