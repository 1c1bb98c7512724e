/**
 * A short random-fault run of the CAS workload (issue 13): conditional PUTs (ifValue / ifVersion /
 * ifAbsent) and single-key transactions among reads and writes, 3 nodes, every fault kind this
 * machine allows, checked against the CAS register — 0 violations, 0 lost acknowledged writes,
 * every key decided.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_FAULTS } from './faults.ts';
import { formatRun } from './report.ts';
import { runChaos } from './run.ts';

test('short random-fault run of the CAS workload (3 nodes, all faults)', async () => {
  const lines: string[] = [];
  const report = await runChaos({
    nodes: 3,
    durationS: 15,
    seed: 1313,
    faults: ALL_FAULTS,
    workload: { kind: 'cas' },
    schedule: { quietMs: [500, 1500], holdMs: [1500, 3000] },
    log: (l) => lines.push(l),
  });
  const text = [...lines, ...formatRun(report, 1, 1)].join('\n');
  assert.ok(report.faults.length >= 3, `only ${report.faults.length} faults ran:\n${text}`);
  assert.ok(report.counts.ok > 100, text);
  assert.equal(report.error, undefined, text);
  assert.deepEqual(report.divergences, [], text);
  assert.equal(report.violations, 0, text);
  assert.equal(report.lostWrites, 0, text);
  assert.equal(report.unknown, 0, text);
});
