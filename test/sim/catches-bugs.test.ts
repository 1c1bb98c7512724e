/**
 * Proof that the simulator catches real Raft bugs: each deliberately wrong rule (RaftTestFaults)
 * must produce violations of the invariant it breaks within a few dozen seeds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RaftTestFaults } from '../../src/raft/api.ts';
import { runSimulation } from './simulation.ts';

const SEEDS = 40;

const cases: { fault: keyof RaftTestFaults; expect: readonly string[] }[] = [
  // Figure 8: the rule check fires first; the lost committed entry shows up as leader completeness / state machine safety.
  { fault: 'commitPreviousTermByCounting', expect: ['commit-rule', 'leader-completeness', 'state-machine-safety', 'log-matching'] },
  { fault: 'voteTwice', expect: ['election-safety', 'log-matching', 'leader-completeness', 'state-machine-safety'] },
  { fault: 'readIndexWithoutQuorum', expect: ['stale-read'] },
];

for (const { fault, expect } of cases) {
  for (const nodes of [3, 5]) {
    test(`${fault} on ${nodes} nodes is caught`, () => {
      const kinds = new Map<string, number>();
      for (let seed = 1; seed <= SEEDS; seed++) {
        const r = runSimulation({ seed, nodes, testFaults: { [fault]: true } });
        for (const v of r.violations) kinds.set(v.kind, (kinds.get(v.kind) ?? 0) + 1);
      }
      const found = [...kinds.entries()].map(([k, n]) => `${k} x${n}`).join(', ');
      assert.ok(kinds.size > 0, `${SEEDS} seeds with ${fault} reported no violation`);
      for (const k of kinds.keys()) assert.ok(expect.includes(k), `unexpected violation kind ${k} (found: ${found})`);
    });
  }
}
