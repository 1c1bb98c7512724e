/**
 * The paced writer of the watch benchmark (issue 14): `rate` writes per second to the leader for
 * `seconds`, each value `<seq>:<send time>` so every watcher can compute its delivery latency.
 *
 * Why open-loop pacing (write n is due at t0 + n/rate, not after write n-1 was answered): the
 * watch latency must be measured under the stated write rate, not one that slows down with the
 * server. In-flight writes are bounded (`maxInFlight`); when the bound holds writes back, the
 * achieved rate is reported lower than asked rather than hidden.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { WatchSystem } from './watch-streams.ts';

export interface WriterOptions {
  readonly system: WatchSystem;
  /** The leader's base URL. */
  readonly leader: string;
  readonly prefix: string;
  readonly rate: number;
  readonly seconds: number;
  /** Writes cycle over this many keys under the prefix. */
  readonly keys: number;
  readonly maxInFlight: number;
  /** Per-request timeout (ms). */
  readonly timeoutMs: number;
  /** Writes not sent `graceMs` after their time are dropped (the run is cut short, `sent` < planned). */
  readonly graceMs: number;
  /** Local source address of the writer's connections (its own per-address connection budget). */
  readonly localAddress: string;
}

export interface WriterResult {
  /** acked[seq] = 1 for every write the leader acknowledged. */
  readonly acked: Uint8Array;
  readonly sent: number;
  readonly ackedCount: number;
  readonly errors: number;
  readonly errorKinds: ReadonlyMap<string, number>;
  /** Wall time from the first send to the last answer (ms). */
  readonly elapsedMs: number;
  /** How far behind its schedule the last write was sent (ms). */
  readonly lagMs: number;
}

const now = (): number => performance.timeOrigin + performance.now();
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Number of writes a run of `rate` × `seconds` sends. */
export function plannedWrites(rate: number, seconds: number): number {
  return Math.max(1, Math.round(rate * seconds));
}

export async function runWriter(o: WriterOptions): Promise<WriterResult> {
  const total = plannedWrites(o.rate, o.seconds);
  const acked = new Uint8Array(total);
  const errorKinds = new Map<string, number>();
  const pool = new Pool(o.leader, { connections: Math.min(o.maxInFlight, 64), pipelining: 1, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs, localAddress: o.localAddress });
  let inFlight = 0;
  let ackedCount = 0;
  let errors = 0;
  let lagMs = 0;
  const pending = new Set<Promise<void>>();
  const fail = (kind: string): void => {
    errors++;
    if (errorKinds.size < 8 || errorKinds.has(kind)) errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  };
  const write = async (seq: number): Promise<void> => {
    const key = `${o.prefix}k${seq % o.keys}`;
    const value = `${seq}:${now().toFixed(3)}`;
    const [path, body] =
      o.system === 'graftd'
        ? ['/key', JSON.stringify({ [key]: value })]
        : ['/v3/kv/put', JSON.stringify({ key: b64(key), value: b64(value) })];
    try {
      const res = await pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json' } });
      const text = await res.body.text();
      if (res.statusCode === 200) {
        acked[seq] = 1;
        ackedCount++;
      } else fail(`${res.statusCode} ${text.slice(0, 80)}`);
    } catch (err) {
      fail(String((err as { code?: string }).code ?? (err as Error).message));
    }
  };
  const t0 = now();
  let seq = 0;
  try {
    const cutoff = t0 + o.seconds * 1000 + o.graceMs;
    while (seq < total && now() < cutoff) {
      const due = Math.min(total, Math.floor(((now() - t0) * o.rate) / 1000) + 1);
      while (seq < due && inFlight < o.maxInFlight) {
        lagMs = Math.max(0, now() - (t0 + (seq * 1000) / o.rate));
        inFlight++;
        const p = write(seq++).finally(() => {
          inFlight--;
          pending.delete(p);
        });
        pending.add(p);
      }
      await sleep(1);
    }
    await Promise.all(pending);
  } finally {
    await pool.close();
  }
  return { acked, sent: seq, ackedCount, errors, errorKinds, elapsedMs: now() - t0, lagMs };
}
