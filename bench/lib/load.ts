/**
 * The closed-loop load generator: `concurrency` workers each send one request at a time for
 * a fixed duration, after a short unmeasured warm-up.
 *
 * Why closed-loop: it measures the throughput a fixed number of clients gets and the latency
 * each sees, the same way for graftd and etcd.
 */
import { performance } from 'node:perf_hooks';
import { LatencyRecorder } from './stats.ts';
import type { OpKind, Target } from './targets.ts';

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
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly errorKinds: ReadonlyMap<string, number>;
}

export const keyName = (i: number): string => `bench-${i}`;

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

/** Run one case against `target`. */
export async function runCase(target: Target, spec: CaseSpec): Promise<CaseResult> {
  const rec = new LatencyRecorder();
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
        const key = keyName(Math.floor(Math.random() * spec.keys));
        const err = await target.op(spec.kind, endpoint, key, spec.value);
        const t1 = performance.now();
        if (t0 < measureFrom) continue;
        if (err === undefined) {
          rec.ok++;
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
    requestsPerSecond: rec.ok / elapsedS,
    p50Ms: rec.percentile(50),
    p99Ms: rec.percentile(99),
    errors: rec.errors,
    errorKinds: rec.errorKinds,
  };
}
