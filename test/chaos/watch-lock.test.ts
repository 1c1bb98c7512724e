/**
 * One short chaos run with each issue-14 checker (every fault kind this machine allows): the
 * watch streams and the lock holders must show 0 violations, and each checker must have had
 * something to judge — streams that reconnected and carried the acknowledged writes, critical
 * sections with accepted fenced writes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_FAULTS } from './faults.ts';
import { formatRun } from './report.ts';
import { runChaos } from './run.ts';

const schedule = { quietMs: [500, 1500], holdMs: [1500, 3500] } as const;

test('short watch-checker run (3 nodes, all faults)', async () => {
  const lines: string[] = [];
  const report = await runChaos({
    nodes: 3,
    durationS: 15,
    seed: 1401,
    faults: ALL_FAULTS,
    schedule,
    addons: ['watch'],
    log: (l) => lines.push(l),
  });
  const text = [...lines, ...formatRun(report, 1, 1)].join('\n');
  const watch = report.addons.find((a) => a.name === 'watch');
  assert.ok(watch !== undefined, text);
  assert.deepEqual(watch.violations, [], text);
  assert.equal(report.violations, 0, text);
  const counts = /(\d+) streams, (\d+) reconnects, (\d+) revisions/.exec(watch.lines[0] ?? '');
  assert.ok(counts !== null && Number(counts[1]) === 3 && Number(counts[2]) > 3 && Number(counts[3]) > 50, text);
  const found = /writes found in streams (\d+)/.exec(watch.lines[1] ?? '');
  assert.ok(found !== null && Number(found[1]) > 50, text);
});

test('short lock-checker run (3 nodes, all faults)', async () => {
  const lines: string[] = [];
  const report = await runChaos({
    nodes: 3,
    durationS: 15,
    seed: 1402,
    faults: ALL_FAULTS,
    schedule,
    addons: ['lock'],
    log: (l) => lines.push(l),
  });
  const text = [...lines, ...formatRun(report, 1, 1)].join('\n');
  const lock = report.addons.find((a) => a.name === 'lock');
  assert.ok(lock !== undefined, text);
  assert.deepEqual(lock.violations, [], text);
  assert.equal(report.violations, 0, text);
  const sections = /(\d+) critical sections/.exec(lock.lines[0] ?? '');
  assert.ok(sections !== null && Number(sections[1]) >= 5, text);
  const writes = /fenced writes: (\d+) accepted.*of (\d+) late writes/.exec(lock.lines[1] ?? '');
  assert.ok(writes !== null && Number(writes[1]) >= 5, text);
});
