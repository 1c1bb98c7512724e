/**
 * The closed-loop load generator: `concurrency` workers each send one request at a time for
 * a fixed duration, after a short unmeasured warm-up.
 *
 * Why closed-loop: it measures the throughput a fixed number of clients gets and the latency
 * each sees, the same way for graftd and etcd.
 */
import { performance } from 'node:perf_hooks';
import { LatencyRecorder } from './stats.ts';
import { CONFLICT, type OpKind, type Target } from './targets.ts';

export interface CaseSpec {
  readonly kind: OpKind;
  readonly concurrency: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Keys are `bench-0` … `bench-<keys-1>`. */
  readonly keys: number;
  readonly value: string;
}

export interface CaseResult {
  readonly system: string;
  readonly kind: OpKind;
  readonly concurrency: number;
  /** UTF-8 bytes of the value written (and, once preloaded, read) by every request. */
  readonly valueBytes: number;
  readonly requestsPerSecond: number;
  /** Successful requests in the measured window. */
  readonly ok: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly errorKinds: ReadonlyMap<string, number>;
  /** cas: answered "condition failed" (graftd 412, etcd failure branch). Not in req/s; their latency is in p50/p99. */
  readonly conflicts: number;
}

export const KEY_PREFIX = 'bench-';

export const keyName = (i: number): string => `${KEY_PREFIX}${i}`;

/** Write every key once (so reads find them), with `concurrency` workers. */
export async function preload(target: Target, keys: number, value: string, concurrency = 16): Promise<number> {
  let next = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = next++; i < keys; i = next++) {
        if ((await target.op('write', w % target.endpoints.length, keyName(i), value)) !== undefined) errors++;
      }
    }),
  );
  return errors;
}

/** A second key index, different from `i` when there are at least two keys. */
function otherIndex(i: number, keys: number): number {
  return keys < 2 ? i : (i + 1 + Math.floor(Math.random() * (keys - 1))) % keys;
}

/**
 * Run one case against `target` (after its unmeasured `prepare`). Successes count in req/s; a
 * refused CAS is a conflict: its latency is recorded (it went through the log like a success)
 * but it is not a success.
 */
export async function runCase(target: Target, spec: CaseSpec): Promise<CaseResult> {
  await target.prepare?.(spec.kind, KEY_PREFIX);
  const rec = new LatencyRecorder();
  let conflicts = 0;
  const start = performance.now();
  const measureFrom = start + spec.warmupSeconds * 1000;
  const end = measureFrom + spec.seconds * 1000;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async (_, w) => {
      // Each worker walks the endpoints round-robin, so every concurrency level spreads its requests.
      let endpoint = w % target.endpoints.length;
      for (;;) {
        endpoint = (endpoint + 1) % target.endpoints.length;
        const t0 = performance.now();
        if (t0 >= end) return;
        const i = Math.floor(Math.random() * spec.keys);
        const err = await target.op(spec.kind, endpoint, keyName(i), spec.value, keyName(otherIndex(i, spec.keys)));
        const t1 = performance.now();
        if (t0 < measureFrom) continue;
        if (err === undefined) {
          rec.ok++;
          rec.record(t1 - t0);
        } else if (err === CONFLICT) {
          conflicts++;
          rec.record(t1 - t0);
        } else rec.error(err);
      }
    }),
  );
  const elapsedS = (performance.now() - measureFrom) / 1000;
  return {
    system: target.system,
    kind: spec.kind,
    concurrency: spec.concurrency,
    valueBytes: Buffer.byteLength(spec.value),
    requestsPerSecond: rec.ok / elapsedS,
    ok: rec.ok,
    p50Ms: rec.percentile(50),
    p99Ms: rec.percentile(99),
    errors: rec.errors,
    errorKinds: rec.errorKinds,
    conflicts,
  };
}
