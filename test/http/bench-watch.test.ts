/**
 * The watch benchmark (bench/watch-bench.ts, issue 14): its histogram and etcd prefix end, and a
 * small run against a real 3-node graftd cluster (20 watchers, 100 writes/s, 1 s) — every
 * acknowledged write delivered to every watcher once, latencies measured.
 *
 * Addresses: graftd on 127.0.0.41-43, HTTP 19471-19473, raft 19571-19573 (--port-base 19470);
 * watchers from 127.0.1.1, the writer from 127.0.2.1.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { WatchHistogram } from '../../bench/lib/watch-hist.ts';
import { prefixEnd } from '../../bench/lib/watch-streams.ts';

test('WatchHistogram: percentiles within 1 % above the true value, exact max, merge adds', () => {
  const h = new WatchHistogram();
  for (let i = 1; i <= 1000; i++) h.record(i / 10); // 0.1 … 100 ms
  const p50 = h.percentile(50);
  assert.ok(p50 >= 50 && p50 <= 50 * 1.01, `p50 ${p50}`);
  const p99 = h.percentile(99);
  assert.ok(p99 >= 99 && p99 <= 99 * 1.01, `p99 ${p99}`);
  assert.equal(h.max, 100);
  assert.equal(h.percentile(100), 100);
  const other = new WatchHistogram();
  for (let i = 0; i < 1000; i++) other.record(1000);
  h.merge(other.counts, other.max);
  assert.equal(h.total, 2000);
  assert.equal(h.max, 1000);
  assert.ok(h.percentile(50) <= 101 && h.percentile(51) >= 1000, `${h.percentile(50)} ${h.percentile(51)}`);
  assert.ok(Number.isNaN(new WatchHistogram().percentile(50)));
  h.record(-0.5); // clock noise below 1 µs lands in the first bucket, not out of range
  assert.equal(h.total, 2001);
});

test('prefixEnd: the last byte incremented (etcd range_end)', () => {
  assert.equal(prefixEnd('watchbench/').toString(), 'watchbench0');
  assert.deepEqual([...prefixEnd('a\u00ff')], [0x61, 0xc3, 0xc0]); // UTF-8 bytes, the last one incremented
});

test('bench:watch smoke: 20 graftd watchers × 100 writes/s × 1 s, none missing', { timeout: 60_000 }, async () => {
  const t0 = Date.now();
  const args = ['--import', 'tsx', resolve(import.meta.dirname, '../../bench/watch-bench.ts')];
  args.push('--systems', 'graftd', '--watchers', '20', '--rate', '100', '--seconds', '1', '--drain-seconds', '5', '--port-base', '19470', '--json');
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, args, { timeout: 55_000 }));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`bench exited badly: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  const json = stdout.split('\n').find((l) => l.startsWith('[{'));
  assert.ok(json !== undefined, `no JSON line in:\n${stdout}`);
  const [r] = JSON.parse(json) as {
    opened: number;
    acked: number;
    expected: number;
    delivered: number;
    missing: number;
    duplicates: number;
    p50: number;
    p99: number;
    nodes: { after?: { rss: number } }[];
  }[];
  assert.ok(r !== undefined);
  assert.equal(r.opened, 20);
  assert.equal(r.acked, 100);
  assert.equal(r.expected, 100 * 20);
  assert.equal(r.delivered, r.expected);
  assert.equal(r.missing, 0);
  assert.equal(r.duplicates, 0);
  assert.ok(r.p50 > 0 && r.p99 >= r.p50, `p50 ${r.p50} p99 ${r.p99}`);
  assert.equal(r.nodes.length, 3);
  for (const n of r.nodes) assert.ok((n.after?.rss ?? 0) > 10 * 2 ** 20, 'each node has an RSS reading');
  console.log(`smoke: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${Date.now() - t0} ms in all`);
});
