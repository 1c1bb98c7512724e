/**
 * The crash test through power cuts instead of kill -9: the WAL workload (appends with save and
 * saveAsync, overwrites after a term change, term/vote changes, snapshots, compaction, snapshot
 * installs) runs on PowerCutFs and the power goes at a random file-system call — inside any
 * operation, during recovery, while the thread pool syncs. After every reboot the reopened WAL
 * must hold everything acknowledged (power-cut-workload.ts describes the check).
 *
 * POWER_CUT_ROUNDS (default 60) cuts per lane.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPowerCutWorkload } from './power-cut-workload.ts';

const ROUNDS = Number(process.env.POWER_CUT_ROUNDS ?? 60);

const LANES = [
  { name: 'drop or torn prefix, saveAsync on the thread pool', seeds: [1, 2, 3, 4, 5, 6], opts: {} },
  { name: 'saveAsync syncing inline', seeds: [11, 12, 13, 14], opts: { inlineSync: true } },
  { name: 'every unsynced write dropped', seeds: [21, 22, 23], opts: { mode: 'drop' as const } },
  { name: 'torn prefixes only, small segments', seeds: [31, 32, 33], opts: { mode: 'prefix' as const, segmentBytes: 512 } },
];

for (const lane of LANES) {
  test(`power cut at random calls (${lane.name}; ${lane.seeds.length} seeds × ${ROUNDS} cuts): nothing acknowledged is lost`, async () => {
    let acked = 0;
    let lost = 0;
    for (const seed of lane.seeds) {
      const r = await runPowerCutWorkload({ seed, rounds: ROUNDS, ...lane.opts });
      assert.deepEqual(r.problems, [], `seed ${seed} (replay: runPowerCutWorkload({ seed: ${seed}, rounds: ${ROUNDS}, ... }))`);
      assert.equal(r.corruptions, 0);
      acked += r.acked;
      lost += r.bytesLost;
    }
    assert.ok(acked > 0, 'batches were acknowledged');
    assert.ok(lost > 0, 'the cuts discarded unsynced writes (the model was at work)');
  });
}
