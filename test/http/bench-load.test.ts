/**
 * The benchmark's load generator and statistics (bench/lib), against an in-process target:
 * percentiles are right, errors are counted by kind, every worker walks all endpoints.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preload, runCase } from '../../bench/lib/load.ts';
import { LatencyRecorder } from '../../bench/lib/stats.ts';
import type { OpKind, Target } from '../../bench/lib/targets.ts';

test('LatencyRecorder: nearest-rank percentiles', () => {
  const rec = new LatencyRecorder(1000);
  for (let i = 1; i <= 100; i++) rec.record(i);
  assert.equal(rec.percentile(50), 50);
  assert.equal(rec.percentile(99), 99);
  assert.equal(rec.percentile(100), 100);
  assert.ok(Number.isNaN(new LatencyRecorder().percentile(50)));
});

test('LatencyRecorder: the reservoir stays within its capacity and stays a uniform sample', (t) => {
  // Math.random seeded (xorshift32) so the sample, and this test's verdict, are deterministic.
  let x = 0x9e3779b9;
  t.mock.method(Math, 'random', () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  });
  const capacity = 1000;
  const n = 100_000;
  const rec = new LatencyRecorder(capacity);
  for (let i = 0; i < n; i++) {
    rec.record(i);
    assert.ok(rec.sampleCount <= capacity, `after ${i + 1} records the reservoir holds ${rec.sampleCount} > ${capacity} samples`);
  }
  assert.equal(rec.sampleCount, capacity);
  // A uniform sample of 0..n-1: its median is near n/2 and its extremes near the ends. Keeping the
  // first (or last) `capacity` values, or replacing too rarely, puts the median far off.
  const median = rec.percentile(50);
  assert.ok(Math.abs(median - n / 2) < n * 0.06, `median of the sample ${median}, expected about ${n / 2}`);
  assert.ok(rec.percentile(1) < n * 0.05, `p1 ${rec.percentile(1)}`);
  assert.ok(rec.percentile(99) > n * 0.95, `p99 ${rec.percentile(99)}`);
});

test('LatencyRecorder: errors are all counted, at most 8 kinds are named', () => {
  const rec = new LatencyRecorder(10);
  rec.error('503 GRAFTD_NO_LEADER');
  rec.error('503 GRAFTD_NO_LEADER');
  rec.error('ECONNREFUSED');
  assert.equal(rec.errors, 3);
  assert.deepEqual(
    [...rec.errorKinds],
    [
      ['503 GRAFTD_NO_LEADER', 2],
      ['ECONNREFUSED', 1],
    ],
  );
  for (let i = 0; i < 20; i++) rec.error(`kind-${i}`);
  rec.error('ECONNREFUSED');
  assert.equal(rec.errors, 24);
  assert.equal(rec.errorKinds.size, 8);
  assert.equal(rec.errorKinds.get('ECONNREFUSED'), 2, 'a named kind keeps counting');
});

test('runCase: counts successes and errors, spreads requests over every endpoint', async () => {
  const hits = [0, 0, 0];
  const kinds = new Set<OpKind>();
  const data = new Map<string, string>();
  let n = 0;
  const target: Target = {
    system: 'graftd',
    endpoints: ['a', 'b', 'c'],
    async op(kind, endpoint, key, value) {
      hits[endpoint]!++;
      kinds.add(kind);
      await new Promise((resolve) => setImmediate(resolve));
      if (kind === 'write') data.set(key, value);
      return ++n % 10 === 0 ? '500 GRAFTD_INTERNAL' : undefined;
    },
    async close() {},
  };
  const preloadErrors = await preload(target, 50, 'v', 4);
  assert.equal(data.size, 50);
  assert.equal(preloadErrors, 5);
  const r = await runCase(target, { kind: 'read', concurrency: 1, seconds: 0.2, warmupSeconds: 0.05, keys: 50, value: 'v' });
  assert.ok(r.requestsPerSecond > 0);
  assert.ok(r.errors > 0);
  assert.deepEqual([...r.errorKinds.keys()], ['500 GRAFTD_INTERNAL']);
  assert.ok(r.p50Ms <= r.p99Ms);
  assert.ok(
    hits.every((h) => h > 10),
    `one worker reaches every endpoint: ${hits.join(',')}`,
  );
  assert.deepEqual([...kinds].sort(), ['read', 'write']);
});
