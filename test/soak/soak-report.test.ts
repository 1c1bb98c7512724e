/**
 * The soak's arithmetic without a cluster: metric parsing, the RSS baseline minute, the p99
 * windows, each goal and the exact shape of the last line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricValue } from '../../bench/lib/soak-probe.ts';
import { FINAL_LINE_RE, type MinuteRow, type NodeMinute, finalLine, summarize } from '../../bench/lib/soak-report.ts';

const MiB = 1024 * 1024;

function node(rssMiB: number, wal = 1, diskMiB = 10): NodeMinute {
  return { rssMax: rssMiB * MiB, heapMax: 40 * MiB, fdsMax: 44, diskMax: diskMiB * MiB, walMax: wal, snapshotsMax: 2, samples: 12 };
}

function row(minute: number, rssMiB: number, p99Ms: number, wal = 1): MinuteRow {
  return {
    minute,
    ops: 18000,
    errors: 0,
    retried: 0,
    skipped: 0,
    p50Ms: 2,
    p99Ms,
    leader: 'node0',
    load1: 1,
    nodes: [node(rssMiB, wal), node(rssMiB - 5, wal, 20), node(rssMiB - 10, wal)],
  };
}

test('metricValue reads a gauge with default labels and ignores longer names', () => {
  const text = [
    '# HELP process_open_fds Number of open file descriptors.',
    'process_open_fds_max{node="node0"} 1024',
    'process_open_fds{node="node0"} 44',
    'process_resident_memory_bytes{node="node0"} 175398912',
  ].join('\n');
  assert.equal(metricValue(text, 'process_open_fds'), 44);
  assert.equal(metricValue(text, 'process_resident_memory_bytes'), 175398912);
  assert.ok(Number.isNaN(metricValue(text, 'nodejs_heap_size_used_bytes')));
});

test('a 30-minute run: baseline minute 5, 5-minute p99 windows, goals met, last line well-formed', () => {
  const rows = Array.from({ length: 30 }, (_, i) => row(i + 1, i < 4 ? 150 + i * 5 : 170 + (i % 3), 200 + (i % 4) * 10));
  const s = summarize(rows, 0);
  assert.equal(s.baselineMinute, 5);
  assert.equal(s.p99Window, 5);
  assert.deepEqual(s.missed, []);
  assert.equal(s.diskMaxMiB, 20);
  const line = finalLine(s);
  assert.match(line, FINAL_LINE_RE);
  assert.equal(
    line,
    `soak: 30 minutes, rss drift ${s.rssDriftPercent.toFixed(1)} %, disk max 20.0 MiB, p99 first/last 210.0/210.0 ms, 0 errors`,
  );
});

test('each goal is reported when missed', () => {
  const rows = Array.from({ length: 10 }, (_, i) => row(i + 1, 100 + i * 10, 10 + i * 10, i === 9 ? 4 : 1));
  const s = summarize(rows, 3);
  const text = s.missed.join('\n');
  assert.match(text, /3 error/);
  assert.match(text, /rss drift 35\.7 % \(minute 5 → 10\)/); // 190 / 140 − 1
  assert.match(text, /4 WAL segments/);
  assert.match(text, /p99 not flat/);
  assert.match(finalLine(s), FINAL_LINE_RE);
});

test('runs under 6 minutes compare with minute 1; a 2-minute run uses 1-minute p99 windows', () => {
  const s = summarize([row(1, 100, 50), row(2, 110, 60)], 0);
  assert.equal(s.baselineMinute, 1);
  assert.equal(s.p99Window, 1);
  assert.equal(s.rssDriftPercent.toFixed(1), '10.0');
  assert.equal(s.p99FirstMs, 50);
  assert.equal(s.p99LastMs, 60);
  assert.deepEqual(s.missed, []);
});
