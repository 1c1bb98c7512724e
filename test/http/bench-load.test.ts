/**
 * The benchmark's load generator and statistics (bench/lib), against an in-process target:
 * percentiles are right, errors are counted by kind, every worker walks all endpoints.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preload, runCase } from '../../bench/lib/load.ts';
import { LatencyRecorder } from '../../bench/lib/stats.ts';
import type { OpKind, Target } from '../../bench/lib/targets.ts';

test('LatencyRecorder: nearest-rank percentiles, bounded reservoir', () => {
  const rec = new LatencyRecorder(1000);
  for (let i = 1; i <= 100; i++) rec.record(i);
  assert.equal(rec.percentile(50), 50);
  assert.equal(rec.percentile(99), 99);
  assert.equal(rec.percentile(100), 100);
  assert.ok(Number.isNaN(new LatencyRecorder().percentile(50)));
  const small = new LatencyRecorder(10);
  for (let i = 0; i < 10_000; i++) small.record(i % 2 === 0 ? 1 : 2);
  const p = small.percentile(50);
  assert.ok(p === 1 || p === 2);
  small.error('503 GRAFTD_NO_LEADER');
  small.error('503 GRAFTD_NO_LEADER');
  small.error('ECONNREFUSED');
  assert.equal(small.errors, 3);
  assert.deepEqual(
    [...small.errorKinds],
    [
      ['503 GRAFTD_NO_LEADER', 2],
      ['ECONNREFUSED', 1],
    ],
  );
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
