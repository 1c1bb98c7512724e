/**
 * The simulator against the real core: fixed seeds must pass, replay must be exact, the runs must
 * actually exercise the faults, and the harness itself must notice lost storage and lost liveness.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CreateRaft } from '../../src/raft/api.ts';
import { createRaft, MemoryStorage } from '../../src/raft/index.ts';
import type { Storage } from '../../src/raft/types.ts';
import { runSimulation, type SimResult } from './simulation.ts';

const SEEDS = 30;

function explain(r: SimResult): string {
  return r.violations
    .map((v) => `seed ${r.seed} (${r.nodes} nodes): ${v.kind} at ${v.timeMs}ms: ${v.message}\n${v.trace.join('\n')}`)
    .join('\n');
}

for (const nodes of [3, 5]) {
  test(`${SEEDS} fixed seeds on ${nodes} nodes: no violations, every run recovers after healing, faults were exercised`, () => {
    const sum = { crashes: 0, partitions: 0, snapshotsInstalled: 0, confChangesApplied: 0, transfers: 0, readsServed: 0, committed: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = runSimulation({ seed, nodes });
      assert.equal(r.violations.length, 0, explain(r));
      assert.notEqual(r.recoveryMs, null);
      sum.crashes += r.stats.crashes;
      sum.partitions += r.stats.partitions;
      sum.snapshotsInstalled += r.stats.snapshotsInstalled;
      sum.confChangesApplied += r.stats.confChangesApplied;
      sum.transfers += r.stats.transfers;
      sum.readsServed += r.stats.readsServed;
      sum.committed += r.stats.committed;
    }
    for (const [k, v] of Object.entries(sum)) assert.ok(v > SEEDS, `${k} = ${v}: the runs barely exercise it`);
  });
}

test('the same seed replays exactly; another seed differs', () => {
  const a = runSimulation({ seed: 4242, nodes: 5 });
  const b = runSimulation({ seed: 4242, nodes: 5 });
  const c = runSimulation({ seed: 4243, nodes: 5 });
  assert.equal(a.digest, b.digest);
  assert.deepEqual(a.stats, b.stats);
  assert.equal(a.timeMs, b.timeMs);
  assert.notEqual(a.digest, c.digest);
});

test('pluggable storage: the factory builds every node and the reopen hook runs on every restart', () => {
  const built: string[] = [];
  let reopened = 0;
  const r = runSimulation({
    seed: 11,
    nodes: 3,
    storageFactory: (id) => {
      built.push(id);
      return new MemoryStorage();
    },
    reopenStorage: (_id, survivor) => {
      reopened++;
      return survivor;
    },
    profile: { crashPerMs: 1 / 200 },
  });
  assert.equal(r.violations.length, 0, explain(r));
  assert.deepEqual(built.slice(0, 3), ['n1', 'n2', 'n3']);
  assert.equal(built.length, 3 + r.stats.wipes); // a wiped node gets a fresh storage
  assert.equal(reopened, r.stats.restarts);
  assert.ok(reopened > 0);
});

/** A "recovered" copy of a MemoryStorage that lost its last saved entry (a torn write gone wrong). */
function lossyCopy(s: Storage): Storage {
  const copy = new MemoryStorage({ hardState: s.initialState().hardState });
  const snap = s.snapshotMeta();
  if (snap.index > 0) copy.applySnapshot(snap);
  const last = s.lastIndex();
  const first = Math.max(s.firstIndex(), snap.index + 1);
  if (last > first) copy.save(null, s.entries(first, last)); // everything but the last entry
  return copy;
}

test('a storage that loses a saved entry across a restart is reported', () => {
  const kinds = new Set<string>();
  for (let seed = 1; seed <= 5 && kinds.size === 0; seed++) {
    const r = runSimulation({ seed, nodes: 3, reopenStorage: (_id, s) => lossyCopy(s), profile: { crashPerMs: 1 / 200 } });
    for (const v of r.violations) kinds.add(v.kind);
  }
  assert.ok(kinds.has('storage'), `expected a storage violation, got ${[...kinds].join(', ') || 'none'}`);
});

test('liveness: a cluster whose cores never tick (so never elect) is reported', () => {
  const frozen: CreateRaft = (config, storage) => {
    const core = createRaft(config, storage);
    core.tick = () => {};
    return core;
  };
  const r = runSimulation({ seed: 1, nodes: 3, steps: 200, createRaft: frozen, leaderBoundMs: 1000 });
  assert.equal(r.violations[0]?.kind, 'liveness');
  assert.match(r.violations[0]?.message ?? '', /no leader/);
});

test('single-founder bootstrap (graftd flow: one node bootstraps, the others join as learners and are promoted)', () => {
  let changes = 0;
  let runs = 0;
  for (const nodes of [3, 5]) {
    for (let seed = 1; seed <= 8; seed++) {
      const r = runSimulation({ seed, nodes, bootstrap: 'single' });
      assert.equal(r.violations.length, 0, explain(r));
      changes += r.stats.confChangesApplied;
      runs++;
    }
  }
  // Each node applies its own copy of every change: growing to full size alone is several per run.
  assert.ok(changes > 4 * runs, `${changes} conf changes applied over ${runs} runs: the clusters barely grew`);
});

test('time faults are exercised: leaders stall and resume, timers run late, lease reads are answered right after a resume', () => {
  const sum = {
    stalls: 0,
    leaderStalls: 0,
    lateTicks: 0,
    resumeReads: 0,
    resumeReadsServed: 0,
    resumeReadsFromLease: 0,
    leaseReadsServed: 0,
  };
  for (let seed = 1; seed <= 20; seed++) {
    const r = runSimulation({ seed, nodes: 3 });
    assert.equal(r.violations.length, 0, explain(r));
    for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += r.stats[k];
  }
  for (const [k, v] of Object.entries(sum)) assert.ok(v >= 5, `${k} = ${v} over 20 seeds: the runs barely exercise it`);
});

test('time faults switched off: no stall, no late tick', () => {
  const r = runSimulation({ seed: 3, nodes: 3, faults: { clockDrift: false, stalls: false, lateTimers: false } });
  assert.equal(r.violations.length, 0, explain(r));
  assert.equal(r.stats.stalls, 0);
  assert.equal(r.stats.lateTicks, 0);
  assert.equal(r.profile.time.driftSpread, 0);
});
