/**
 * Proof that the simulator catches real Raft bugs: each deliberately wrong rule (RaftTestFaults)
 * must produce violations of the invariant it breaks within a few dozen seeds (time faults on, as
 * by default).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RaftTestFaults } from '../../src/raft/api.ts';
import { runSimulation } from './simulation.ts';

const SEEDS = 40;

/** `seeds`: how many to run (default SEEDS); `stopAfter`: stop at that many violations (rarer bugs scan further). */
const cases: { fault: keyof RaftTestFaults; expect: readonly string[]; seeds?: number; stopAfter?: number }[] = [
  // Figure 8: the rule check fires first; the lost committed entry shows up as leader completeness / state machine safety.
  { fault: 'commitPreviousTermByCounting', expect: ['commit-rule', 'leader-completeness', 'state-machine-safety', 'log-matching'] },
  { fault: 'voteTwice', expect: ['election-safety', 'log-matching', 'leader-completeness', 'state-machine-safety'] },
  // Item 8 of issue 11: the fixed-seed set (not only the CLI) catches a ReadIndex answered without its heartbeat quorum.
  { fault: 'readIndexWithoutQuorum', expect: ['stale-read'] },
  // Leases counted in ticks: a leader resuming from a stall (one late tick) serves lease reads after a new leader committed.
  // It needs a leader stalled past an election, a new leader committing meanwhile, and a lease read handled
  // before the new term's messages on resume: about 1 seed in 20 on 3 nodes, 1 in 7 on 5 (300 seeds each).
  { fault: 'tickLeases', expect: ['stale-read'], seeds: 200, stopAfter: 1 },
];

for (const { fault, expect, seeds = SEEDS, stopAfter = Number.POSITIVE_INFINITY } of cases) {
  for (const nodes of [3, 5]) {
    test(`${fault} on ${nodes} nodes is caught`, () => {
      const kinds = new Map<string, number>();
      let total = 0;
      for (let seed = 1; seed <= seeds && total < stopAfter; seed++) {
        const r = runSimulation({ seed, nodes, testFaults: { [fault]: true } });
        for (const v of r.violations) kinds.set(v.kind, (kinds.get(v.kind) ?? 0) + 1);
        total += r.violations.length;
      }
      const found = [...kinds.entries()].map(([k, n]) => `${k} x${n}`).join(', ');
      assert.ok(kinds.size > 0, `${seeds} seeds with ${fault} reported no violation`);
      for (const k of kinds.keys()) assert.ok(expect.includes(k), `unexpected violation kind ${k} (found: ${found})`);
    });
  }
}

/** An aggressive profile that reaches Figure 8 interleavings; shared so the control test below runs exactly what the bug test runs. */
const FIGURE8_PROFILE = {
  maxMsgBytes: 1,
  maxInflight: 2,
  crashNewLeader: 0.5,
  partitionPerMs: 1 / 300,
  crashPerMs: 1 / 300,
  proposePerMs: 1 / 4,
  preVote: false,
  checkQuorum: false,
};

test('commitPreviousTermByCounting is caught by the safety invariants alone (Figure 8 data loss), without the commit-rule check', () => {
  // The rule check above fires on the first wrong commit. Here it is off, so a violation means the
  // simulator reached the full Figure 8 story: an old-term entry committed by counting, then
  // overwritten by a leader that never had it. That takes a rare interleaving (about 1 seed in 100
  // with this aggressive profile), so scan until the first one.
  let found = '';
  for (let seed = 1; seed <= 800 && found === ''; seed++) {
    const r = runSimulation({
      seed,
      nodes: 3,
      profile: FIGURE8_PROFILE,
      checkCommitRule: false,
      testFaults: { commitPreviousTermByCounting: true },
    });
    const v = r.violations[0];
    if (v !== undefined) found = `${v.kind} (seed ${seed}): ${v.message}`;
  }
  assert.match(found, /^(leader-completeness|state-machine-safety|log-matching)/, found || 'no violation in 800 seeds');
});

test('the same aggressive profile with a correct core reports nothing', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = runSimulation({ seed, nodes: 3, profile: FIGURE8_PROFILE, checkCommitRule: false });
    assert.deepEqual(
      r.violations.map((v) => `${v.kind}: ${v.message}`),
      [],
    );
  }
});
