/**
 * The scale run's probe: a paced trickle of requests (alternating a small write and a
 * linearizable read of a loaded key, round-robin over the nodes) whose every start and end time
 * is kept, so the latency of requests served while a snapshot was being taken can be told apart
 * from the rest afterwards.
 *
 * Why paced (open loop) and not closed loop: a stalled event loop then shows as the full length
 * of the stall in the requests sent during it, instead of as one slow request per client.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface ProbeSample {
  /** performance.now() at send and at the answer. */
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
}

export interface Probe {
  readonly samples: readonly ProbeSample[];
  /** Ticks skipped because `maxInFlight` requests were already outstanding. */
  readonly skipped: number;
  stop(): Promise<void>;
}

export interface ProbeOptions {
  readonly endpoints: readonly string[];
  readonly ratePerSecond: number;
  readonly maxInFlight: number;
  /** A key known to exist, for the reads. */
  readonly readKey: () => string;
  readonly valueBytes: number;
  /** Bound on samples kept (a probe is minutes at most; this is a backstop). */
  readonly maxSamples?: number;
}

export function startProbe(o: ProbeOptions): Probe {
  const pools = o.endpoints.map((e) => new Pool(e, { connections: o.maxInFlight, headersTimeout: 60_000, bodyTimeout: 60_000 }));
  const samples: ProbeSample[] = [];
  const maxSamples = o.maxSamples ?? 1_000_000;
  const value = 'p'.repeat(o.valueBytes);
  const pending = new Set<Promise<void>>();
  let n = 0;
  let skipped = 0;
  const send = async (i: number): Promise<void> => {
    const pool = pools[i % pools.length]!;
    const start = performance.now();
    let ok = false;
    try {
      const res =
        i % 2 === 0
          ? await pool.request({
              method: 'POST',
              path: '/key',
              body: JSON.stringify({ [`probe-${i % 1000}`]: value }),
              headers: { 'content-type': 'application/json' },
            })
          : await pool.request({ method: 'GET', path: `/key/${encodeURIComponent(o.readKey())}` });
      await res.body.dump();
      ok = res.statusCode === 200;
    } catch {}
    if (samples.length < maxSamples) samples.push({ start, end: performance.now(), ok });
  };
  // Paced against the clock: a late timer sends the requests it owes at once.
  const began = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - began) / 1000) * o.ratePerSecond);
    while (n < due) {
      if (pending.size >= o.maxInFlight) {
        skipped += due - n;
        n = due;
        break;
      }
      const p = send(n++).finally(() => pending.delete(p));
      pending.add(p);
    }
  }, 5);
  return {
    samples,
    get skipped() {
      return skipped;
    },
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      await Promise.all(pools.map((p) => p.close()));
    },
  };
}

/** Nearest-rank percentile of the latencies (ms) of the successful samples `pick` keeps. */
export function probePercentile(
  samples: readonly ProbeSample[],
  p: number,
  pick: (s: ProbeSample) => boolean,
): { value: number; count: number; max: number } {
  const lat = samples
    .filter((s) => s.ok && pick(s))
    .map((s) => s.end - s.start)
    .sort((a, b) => a - b);
  if (lat.length === 0) return { value: Number.NaN, count: 0, max: Number.NaN };
  return {
    value: lat[Math.min(lat.length - 1, Math.max(0, Math.ceil((p / 100) * lat.length) - 1))]!,
    count: lat.length,
    max: lat[lat.length - 1]!,
  };
}
