/**
 * The benchmark's value-size sweep and fdatasync probe (issue 15): `--value-bytes` parsing, MB/s,
 * the table's value B and MB/s columns, the "write c=1 … × fdatasync" line, the probe itself in a
 * temp dir, and large values through the real HTTP layer (fake node, 127.0.0.49:18493) over
 * keep-alive connections that survive answers above undici's default dump limit. ~1 s.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { type FsyncProbeResult, fsyncGoalLine, probeFdatasync } from '../../bench/lib/fsync-probe.ts';
import { type CaseResult, keyName, preload, runCase } from '../../bench/lib/load.ts';
import { printComparison } from '../../bench/lib/summary.ts';
import { graftdTarget, lastOf } from '../../bench/lib/targets.ts';
import { MAX_VALUE_BYTES, fmtMBps, megabytesPerSecond, parseValueSizes } from '../../bench/lib/value-sizes.ts';
import type { FakeNode } from './fake-node.ts';
import { makeServer } from './helpers.ts';

test('parseValueSizes: a list in order, one number, and clear refusals', () => {
  assert.deepEqual(parseValueSizes('64,4096,65536'), [64, 4096, 65536]);
  assert.deepEqual(parseValueSizes('64'), [64]);
  assert.deepEqual(parseValueSizes(' 4096 , 64'), [4096, 64]);
  assert.throws(() => parseValueSizes('64,,4096'), /positive whole byte counts, found ""/);
  assert.throws(() => parseValueSizes('0'), /found "0"/);
  assert.throws(() => parseValueSizes('1.5'), /found "1.5"/);
  assert.throws(() => parseValueSizes('4k'), /found "4k"/);
  assert.throws(() => parseValueSizes(String(MAX_VALUE_BYTES + 1)), /above graftd's value limit of 262144 bytes/);
  assert.throws(() => parseValueSizes('64,64'), /64 is listed twice/);
  assert.deepEqual(parseValueSizes(String(MAX_VALUE_BYTES)), [MAX_VALUE_BYTES]);
});

test('MB/s: requests/s × value bytes / 10^6, printed with about three figures', () => {
  assert.equal(megabytesPerSecond(2000, 65536), 131.072);
  assert.equal(fmtMBps(131.072), '131');
  assert.equal(fmtMBps(megabytesPerSecond(300, 4096)), '1.23');
  assert.equal(fmtMBps(45.61), '45.6');
  assert.equal(fmtMBps(megabytesPerSecond(330, 64)), '0.021');
  assert.equal(fmtMBps(Number.NaN), '-');
});

test('fsyncGoalLine: the single-client write p50 as a multiple of fdatasync', () => {
  assert.equal(fsyncGoalLine(1.48, 0.16), 'write c=1 p50 1.48 ms = 9.3 × fdatasync p50 0.160 ms (goal ≤ 3×: not met)');
  assert.equal(
    fsyncGoalLine(0.45, 0.16, '4096 B', 'etcd p50 1.90 ms = 11.9 ×'),
    'write c=1 4096 B p50 0.450 ms = 2.8 × fdatasync p50 0.160 ms (goal ≤ 3×: met; etcd p50 1.90 ms = 11.9 ×)',
  );
  assert.match(fsyncGoalLine(1, Number.NaN), /= - × fdatasync p50 - ms \(goal ≤ 3×: unknown\)/);
});

test('probeFdatasync: both variants measured in a temp dir that is removed afterwards', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sweep-test-'));
  try {
    const r = probeFdatasync({ dir, count: 10, recordBytes: 128, preallocBytes: 64 * 1024 });
    assert.equal(r.dir, dir);
    assert.equal(r.recordBytes, 128);
    for (const s of [r.preallocated, r.append]) {
      assert.equal(s.count, 10);
      assert.ok(s.p50Ms > 0 && s.p50Ms <= s.p90Ms && s.p90Ms <= s.p99Ms, JSON.stringify(s));
    }
    assert.ok(r.fsType.length > 0);
    assert.deepEqual(readdirSync(dir), [], 'the probe removes its files');
    assert.throws(() => probeFdatasync({ dir, count: 100, recordBytes: 200, preallocBytes: 1000 }), /do not fit/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lastOf: encodes a value once while it stays the same', () => {
  let calls = 0;
  const enc = lastOf((s) => {
    calls++;
    return s.toUpperCase();
  });
  assert.equal(enc('ab'), 'AB');
  assert.equal(enc('ab'), 'AB');
  assert.equal(calls, 1);
  assert.equal(enc('cd'), 'CD');
  assert.equal(calls, 2);
});

/** A made-up result of one case. */
function result(system: string, kind: 'write' | 'read', concurrency: number, valueBytes: number, rps: number, p50Ms: number): CaseResult {
  return {
    system,
    kind,
    concurrency,
    valueBytes,
    requestsPerSecond: rps,
    ok: rps,
    p50Ms,
    p99Ms: p50Ms * 3,
    errors: 0,
    errorKinds: new Map(),
    conflicts: 0,
  };
}

const probe: FsyncProbeResult = {
  dir: '/tmp',
  fsType: 'ext2/3/4',
  recordBytes: 200,
  preallocated: { count: 200, p50Ms: 0.2, p90Ms: 0.3, p99Ms: 0.5 },
  append: { count: 200, p50Ms: 0.25, p90Ms: 0.4, p99Ms: 0.9 },
  elapsedMs: 60,
};

/** The lines printComparison writes. */
function printed(t: { mock: { method: (o: object, m: string, f: (...a: unknown[]) => void) => unknown } }, run: () => void): string[] {
  const lines: string[] = [];
  t.mock.method(console, 'log', (...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  run();
  return lines;
}

test('printComparison: with several sizes a value B column, MB/s for both systems, one goal line per size', (t) => {
  const sizes = [64, 65536];
  const g = sizes.flatMap((b) => [[result('graftd', 'write', 1, b, 500, 1.5)], [result('graftd', 'read', 16, b, 2000, 0.9)]]);
  const e = sizes.flatMap((b) => [[result('etcd', 'write', 1, b, 400, 2)], [result('etcd', 'read', 16, b, 1000, 1.2)]]);
  const lines = printed(t, () => printComparison(g, e, { fsync: probe }));
  const head = lines[0]!.split('|').map((c) => c.trim());
  assert.deepEqual(head.slice(1, 5), ['case', 'value B', 'conc', 'graftd req/s']);
  assert.equal(head.filter((c) => c === 'MB/s').length, 2);
  const row = (i: number) => lines[i]!.split('|').map((c) => c.trim());
  // write 65536 c=1: 500 req/s × 65536 B = 32.8 MB/s; etcd 400 × 65536 = 26.2 MB/s; ratio 1.25.
  const big = row(4);
  assert.deepEqual(big.slice(1, 6), ['write', '65536', '1', '500', '32.8']);
  assert.ok(big.includes('26.2') && big.includes('1.25'), big.join('|'));
  assert.deepEqual(row(2).slice(1, 6), ['write', '64', '1', '500', '0.032']);
  assert.ok(lines.some((l) => l.startsWith('fdatasync on /tmp (ext2/3/4)')));
  const goals = lines.filter((l) => l.startsWith('write c=1'));
  assert.deepEqual(goals, [
    'write c=1 64 B p50 1.50 ms = 7.5 × fdatasync p50 0.200 ms (goal ≤ 3×: not met; etcd p50 2.00 ms = 10.0 ×)',
    'write c=1 65536 B p50 1.50 ms = 7.5 × fdatasync p50 0.200 ms (goal ≤ 3×: not met; etcd p50 2.00 ms = 10.0 ×)',
  ]);
});

test('printComparison: one size keeps the old layout plus a MB/s column', (t) => {
  const lines = printed(t, () => printComparison([[result('graftd', 'write', 1, 64, 300, 2.6)]], undefined, { fsync: probe }));
  const head = lines[0]!.split('|').map((c) => c.trim());
  assert.deepEqual(head.slice(1, -1), ['case', 'conc', 'graftd req/s', 'MB/s', 'p50 ms', 'p99 ms', 'errors']);
  assert.ok(lines.includes('write c=1 p50 2.60 ms = 13.0 × fdatasync p50 0.200 ms (goal ≤ 3×: not met)'));
});

const host = '127.0.0.49';
const port = 18493;
let app: FastifyInstance;
let node: FakeNode;
let connections = 0;

before(async () => {
  ({ app, node } = await makeServer());
  app.server.on('connection', () => connections++);
  await app.listen({ host, port });
});

after(async () => {
  await app.close();
});

test('large values: written and read whole, over kept-alive connections', async () => {
  // 200 KiB: above undici's default dump limit (128 KiB), which closes the connection after each read.
  const bytes = 200 * 1024;
  const target = graftdTarget([`http://${host}:${port}`], 2);
  try {
    assert.equal(await preload(target, 8, 'v'.repeat(bytes), 2), 0);
    assert.equal(node.store.get(keyName(7))?.length, bytes);
    const r = await runCase(target, { kind: 'read', concurrency: 2, seconds: 0.3, warmupSeconds: 0, keys: 8, value: 'v'.repeat(bytes) });
    assert.equal(r.errors, 0, [...r.errorKinds].join());
    assert.equal(r.valueBytes, bytes);
    assert.ok(r.ok > 5, `${r.ok} reads`);
    assert.ok(connections <= 2, `${connections} connections for ${r.ok} reads: answers must not close them`);
  } finally {
    await target.close();
  }
});
