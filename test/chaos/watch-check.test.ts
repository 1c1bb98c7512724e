/**
 * The watch checker on hand-made streams and histories: a clean run passes, and each kind of
 * broken stream — a gap, a duplicate, a reordering, a wrong value, a split revision, streams that
 * disagree, a lost acknowledged write, a stale read, a real-time inversion — is reported.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryEvent } from '../../src/check/history.ts';
import type { StreamRecord, WatchChange } from './watch-check.ts';
import { checkWatch } from './watch-check.ts';

const put = (key: string, value: string, rev: number, version = 1, createRevision = rev, prevValue?: string): WatchChange => ({
  type: 'put',
  key,
  value,
  createRevision,
  modRevision: rev,
  version,
  ...(prevValue === undefined ? {} : { prevValue }),
});
const del = (key: string, rev: number, prevValue: string): WatchChange => ({
  type: 'delete',
  key,
  createRevision: 0,
  modRevision: rev,
  version: 0,
  prevValue,
});

/** Stream records: a connect, then one change per revision (each with its id). */
function stream(changes: WatchChange[], t0 = 0): StreamRecord[] {
  return [
    { t: 'connect', time: t0, node: 'n1', after: 0 },
    ...changes.map((c, i) => ({ t: 'change' as const, time: t0 + i + 1, id: c.modRevision, change: c })),
  ];
}

// History: p1 writes a=1 (0–10), a=2 (20–30); p2 reads a (40–50) → "2"; p3 deletes a (60–70).
const ok = (
  process: number,
  op: HistoryEvent['op'],
  key: string,
  value: string | null,
  call: number,
  ret: number,
  out = value,
): HistoryEvent[] => [
  { type: 'invoke', process, op, key, value: op === 'read' ? null : value, time: call },
  { type: 'ok', process, op, key, value: out, time: ret },
];
function sorted(events: HistoryEvent[]): HistoryEvent[] {
  return events.sort((a, b) => a.time - b.time);
}
const history = sorted([
  ...ok(1, 'write', 'a', '1', 0, 10),
  ...ok(1, 'write', 'a', '2', 20, 30),
  ...ok(2, 'read', 'a', null, 40, 50, '2'),
  ...ok(3, 'delete', 'a', null, 60, 70),
  ...ok(2, 'read', 'a', null, 80, 90, null),
]);
const good = [put('a', '1', 1), put('a', '2', 2, 2, 1, '1'), del('a', 3, '2')];

function run(streams: Record<string, StreamRecord[]>, h: HistoryEvent[] = history, target = 3) {
  return checkWatch(new Map(Object.entries(streams)), h, { dense: true, target });
}

test('a clean run passes, with reconnects, a partial revision redelivered and progress', () => {
  const w2: StreamRecord[] = [
    { t: 'connect', time: 0, node: 'n2', after: 0 },
    { t: 'change', time: 1, id: 1, change: good[0]! },
    { t: 'end', time: 2, reason: 'closed' },
    { t: 'connect', time: 3, node: 'n3', after: 1 },
    { t: 'change', time: 4, id: 2, change: good[1]! },
    { t: 'change', time: 5, id: 3, change: good[2]! },
    { t: 'progress', time: 6, revision: 3 },
  ];
  const r = run({ w1: stream(good), w2 });
  assert.deepEqual(r.violations, []);
  assert.equal(r.stats.writesFound, 2);
  assert.equal(r.stats.readsChecked, 3);
  assert.equal(r.stats.reconnects, 1);
});

test('a gap is reported (a revision skipped by a change, or claimed by a progress event)', () => {
  const r = run({ w1: stream(good), w2: stream([good[0]!, good[2]!]) });
  assert.ok(
    r.violations.some((v) => v.includes('w2') && v.includes('gap')),
    r.violations.join('\n'),
  );
  const p: StreamRecord[] = [
    ...stream([good[0]!]),
    { t: 'progress', time: 9, revision: 2 },
    { t: 'change', time: 10, id: 3, change: good[2]! },
  ];
  const r2 = run({ w1: stream(good), w2: p });
  assert.ok(
    r2.violations.some((v) => v.includes('progress claims revision 2') && v.includes('gap')),
    r2.violations.join('\n'),
  );
});

test('a duplicate is reported (resumed too early after a reconnect)', () => {
  const w2: StreamRecord[] = [
    ...stream(good.slice(0, 2)),
    { t: 'end', time: 5, reason: 'eof' },
    { t: 'connect', time: 6, node: 'n2', after: 2 },
    { t: 'change', time: 7, id: 2, change: good[1]! },
    { t: 'change', time: 8, id: 3, change: good[2]! },
  ];
  const r = run({ w1: stream(good), w2 });
  assert.ok(
    r.violations.some((v) => v.includes('w2') && v.includes('duplicate')),
    r.violations.join('\n'),
  );
});

test('a reordering is reported', () => {
  const r = run({ w1: stream(good), w2: stream([good[1]!, good[0]!, good[2]!]) });
  assert.ok(
    r.violations.some((v) => v.includes('w2') && v.includes('reordered')),
    r.violations.join('\n'),
  );
});

test('a wrong value is reported: against the other streams and against the history', () => {
  const wrong = [put('a', '1', 1), put('a', 'X', 2, 2, 1, '1'), del('a', 3, 'X')];
  const r = run({ w1: stream(good), w2: stream(wrong) });
  assert.ok(
    r.violations.some((v) => v.startsWith('revision 2:') && v.includes('w2 got')),
    r.violations.join('\n'),
  );
  // Every stream agrees on the wrong value: the history catches it (no client wrote X; a=2 is lost; the read of 2 is impossible).
  const r2 = run({ w1: stream(wrong), w2: stream(wrong) });
  assert.ok(
    r2.violations.some((v) => v.includes('no client wrote')),
    r2.violations.join('\n'),
  );
  assert.ok(
    r2.violations.some((v) => v.includes('acknowledged write a="2"')),
    r2.violations.join('\n'),
  );
  assert.ok(
    r2.violations.some((v) => v.startsWith('read of a') && v.includes('"2"')),
    r2.violations.join('\n'),
  );
});

test('metadata chains: a wrong version or prevValue is reported', () => {
  const r = run({ w1: stream([put('a', '1', 1), put('a', '2', 2, 1, 2, '1'), del('a', 3, '2')]) });
  assert.ok(
    r.violations.some((v) => v.includes('version 1, createRevision 2; expected 2, 1')),
    r.violations.join('\n'),
  );
  const r2 = run({ w1: stream([put('a', '1', 1), put('a', '2', 2, 2, 1, 'zz'), del('a', 3, '2')]) });
  assert.ok(
    r2.violations.some((v) => v.includes('prevValue "zz"')),
    r2.violations.join('\n'),
  );
});

test('changes of one revision must come together, closed by an id naming that revision', () => {
  const two = [put('x', 'p', 4), put('y', 'q', 4)];
  const split: StreamRecord[] = [
    ...stream(good),
    { t: 'change', time: 10, change: two[0]! },
    { t: 'change', time: 11, id: 5, change: put('z', 'r', 5) },
  ];
  const r = checkWatch(new Map([['w1', split]]), [], { dense: true });
  assert.ok(
    r.violations.some((v) => v.includes('not together')),
    r.violations.join('\n'),
  );
  const badId: StreamRecord[] = [
    ...stream(good),
    { t: 'change', time: 10, change: two[0]! },
    { t: 'change', time: 11, id: 3, change: two[1]! },
  ];
  const r2 = checkWatch(new Map([['w1', badId]]), [], { dense: true });
  assert.ok(
    r2.violations.some((v) => v.includes('id 3')),
    r2.violations.join('\n'),
  );
});

test('a stream missing a revision others got (non-dense prefix), and one that stalled below the target', () => {
  const r = checkWatch(
    new Map([
      ['w1', stream(good)],
      ['w2', stream([good[0]!, good[2]!])],
    ]),
    history,
    { dense: false, target: 3 },
  );
  assert.ok(
    r.violations.some((v) => v.includes('w2: revision(s) 2')),
    r.violations.join('\n'),
  );
  const r2 = run({ w1: stream(good), w2: stream(good.slice(0, 2)) });
  assert.ok(
    r2.violations.some((v) => v.includes('w2: stream ended at revision 2')),
    r2.violations.join('\n'),
  );
});

test('real-time order: a write acknowledged before another was invoked must have a lower revision', () => {
  const h = sorted([...ok(1, 'write', 'a', '1', 0, 10), ...ok(2, 'write', 'b', '2', 20, 30)]);
  const inverted = [put('b', '2', 1), put('a', '1', 2)];
  const r = checkWatch(new Map([['w1', stream(inverted)]]), h, { dense: true, target: 2 });
  assert.ok(
    r.violations.some((v) => v.startsWith('write b="2"')),
    r.violations.join('\n'),
  );
});

test('a put from a failed write, and a coverage hole makes a missing write undecided instead of a violation', () => {
  const h = sorted([
    { type: 'invoke', process: 1, op: 'write', key: 'a', value: '1', time: 0 },
    { type: 'fail', process: 1, op: 'write', key: 'a', value: '1', time: 5 },
  ]);
  const r = checkWatch(new Map([['w1', stream([put('a', '1', 1)])]]), h, { dense: true, target: 1 });
  assert.ok(
    r.violations.some((v) => v.includes('failed')),
    r.violations.join('\n'),
  );
  const h2 = sorted([...ok(1, 'write', 'a', '1', 0, 10)]);
  const holed: StreamRecord[] = [
    { t: 'connect', time: 0, node: 'n1', after: 0 },
    { t: 'skip', time: 1, to: 1 },
    { t: 'progress', time: 2, revision: 1 },
  ];
  const r2 = checkWatch(new Map([['w1', holed]]), h2, { dense: true, target: 1 });
  assert.deepEqual(r2.violations, []);
  assert.equal(r2.stats.undecided, 1);
  assert.equal(r2.stats.holes, 1);
});
