/** The invariant checker on hand-made histories: each invariant must fire on its violation and stay quiet otherwise. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry } from '../../src/raft/types.ts';
import { Checker, ViolationError } from './checker.ts';
import { LogTracker } from './log-tracker.ts';

const enc = new TextEncoder();
const entry = (index: number, term: number, data = `c${index}`): Entry => ({ index, term, type: 'normal', data: enc.encode(data) });

function persist(checker: Checker, node: string, log: LogTracker, entries: Entry[]): void {
  const problem = log.append(entries, (e, p) => checker.onPersist(node, e, p));
  assert.equal(problem, null);
}

function kindOf(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ViolationError) return err.kind;
    throw err;
  }
  return 'none';
}

test('election safety: a second leader in the same term is reported, re-election of the same node is not', () => {
  const c = new Checker();
  c.onLeader('n1', 2);
  assert.equal(
    kindOf(() => c.onLeader('n1', 2)),
    'none',
  );
  assert.equal(
    kindOf(() => c.onLeader('n2', 3)),
    'none',
  );
  assert.equal(
    kindOf(() => c.onLeader('n3', 2)),
    'election-safety',
  );
});

test('log matching: same (index, term) over different prefixes is reported', () => {
  const c = new Checker();
  const a = new LogTracker();
  const b = new LogTracker();
  persist(c, 'n1', a, [entry(1, 1), entry(2, 1)]);
  persist(c, 'n2', b, [entry(1, 1), entry(2, 1)]);
  // Same (index, term), different payload.
  assert.equal(
    kindOf(() => persist(c, 'n3', new LogTracker(), [entry(1, 1, 'other')])),
    'log-matching',
  );
  // Same (index, term) and payload, but the entries before it differ.
  const d = new LogTracker();
  const e = new LogTracker();
  persist(c, 'n4', d, [entry(1, 2, 'x'), entry(2, 3)]);
  assert.equal(
    kindOf(() => persist(c, 'n5', e, [entry(1, 3, 'x'), entry(2, 3)])),
    'log-matching',
  );
});

test('log tracker: truncation of a conflicting suffix and snapshot install', () => {
  const c = new Checker();
  const a = new LogTracker();
  persist(c, 'n1', a, [entry(1, 1), entry(2, 1), entry(3, 1)]);
  persist(c, 'n1', a, [entry(2, 2)]);
  assert.equal(a.lastIndex, 2);
  assert.equal(a.termAt(2), 2);
  assert.match(String(a.append([entry(5, 2)], () => {})), /gap/);
  a.installSnapshot(10, 3, 1234);
  assert.equal(a.lastIndex, 10);
  assert.equal(a.hashAt(10), 1234);
  assert.equal(
    a.append([entry(9, 3), entry(10, 3)], () => {}),
    null,
  ); // covered by the snapshot: skipped
  assert.equal(a.lastIndex, 10);
});

test('state machine safety: committed logs that differ, or different entries applied at one index, are reported', () => {
  const c = new Checker();
  const a = new LogTracker();
  const b = new LogTracker();
  persist(c, 'n1', a, [entry(1, 1), entry(2, 1)]);
  persist(c, 'n2', b, [entry(1, 1), entry(2, 2)]);
  c.onCommit('n1', 2, a);
  assert.equal(
    kindOf(() => c.onCommit('n2', 2, b)),
    'state-machine-safety',
  );

  const d = new Checker();
  const h = d.onApply('n1', entry(1, 1), 0, 0);
  assert.equal(
    kindOf(() => d.onApply('n2', entry(1, 1), 0, 0)),
    'none',
  );
  assert.equal(
    kindOf(() => d.onApply('n3', entry(1, 2), 0, 0)),
    'state-machine-safety',
  );
  assert.equal(
    kindOf(() => d.onApply('n1', entry(3, 1), 1, h)),
    'state-machine-safety',
  ); // skipped index 2
  assert.equal(
    kindOf(() => d.checkAppState('n4', 1, h + 1, 'snapshot install')),
    'state-machine-safety',
  );
});

test('commit beyond the durable log is reported', () => {
  const c = new Checker();
  const a = new LogTracker();
  persist(c, 'n1', a, [entry(1, 1)]);
  assert.equal(
    kindOf(() => c.onCommit('n1', 2, a)),
    'commit-regression',
  );
});

test('leader completeness: a leader missing a committed entry is reported', () => {
  const c = new Checker();
  const a = new LogTracker();
  const b = new LogTracker();
  persist(c, 'n1', a, [entry(1, 1), entry(2, 1)]);
  persist(c, 'n2', b, [entry(1, 1)]);
  c.onCommit('n1', 2, a);
  assert.equal(
    kindOf(() => c.checkLeaderLog('n1', 2, a, c.maxCommitted)),
    'none',
  );
  assert.equal(
    kindOf(() => c.checkLeaderLog('n2', 2, b, c.maxCommitted)),
    'leader-completeness',
  );
  const d = new LogTracker();
  persist(c, 'n3', d, [entry(1, 1), entry(2, 3)]);
  assert.equal(
    kindOf(() => c.checkLeaderLog('n3', 4, d, c.maxCommitted)),
    'leader-completeness',
  );
});

test('stale read: an answer below the commit acknowledged at issue time is reported', () => {
  const c = new Checker();
  const a = new LogTracker();
  persist(c, 'n1', a, [entry(1, 1), entry(2, 1), entry(3, 1)]);
  c.onCommit('n1', 2, a);
  c.onReadIssued('r1');
  c.onReadIssued('r2');
  assert.equal(
    kindOf(() => c.onReadState('n1', 'r1', 2)),
    'none',
  );
  assert.equal(
    kindOf(() => c.onReadState('n2', 'r2', 1)),
    'stale-read',
  );
  assert.equal(c.readsServed, 2);
});

test('leader completeness counts what was committed in earlier terms: a stale candidate winning an old term late need not hold later commits', () => {
  const c = new Checker();
  const a = new LogTracker();
  const b = new LogTracker();
  persist(c, 'n1', a, [entry(1, 1), entry(2, 1), entry(3, 4)]);
  persist(c, 'n2', b, [entry(1, 1), entry(2, 1)]);
  c.onCommit('n1', 2, a, 2); // index 2 committed in term 2
  c.onCommit('n1', 3, a, 4); // index 3 committed in term 4
  assert.equal(c.committedBefore(3), 2);
  assert.equal(c.committedBefore(5), 3);
  // n2 wins term 3 late (its votes were granted before term 4 began): it must hold index 2, not 3.
  assert.equal(
    kindOf(() => c.checkLeaderLog('n2', 3, b, c.committedBefore(3))),
    'none',
  );
  assert.equal(
    kindOf(() => c.checkLeaderLog('n2', 5, b, c.committedBefore(5))),
    'leader-completeness',
  );
});

test('stale read: a lease read is held to the same bound as a safe one, and named in the report', () => {
  const c = new Checker();
  const a = new LogTracker();
  persist(c, 'n1', a, [entry(1, 1), entry(2, 1)]);
  c.onCommit('n1', 1, a);
  c.onReadIssued('r1', 'lease');
  c.onCommit('n1', 2, a); // committed after r1 was issued: r1 may miss it
  c.onReadIssued('r2', 'lease');
  assert.equal(
    kindOf(() => c.onReadState('n1', 'r1', 1)),
    'none',
  );
  assert.throws(() => c.onReadState('n3', 'r2', 1), /n3 answered lease read r2 at index 1, but index 2/);
  assert.equal(c.leaseReadsServed, 2);
});
