/**
 * The simulator through power cuts: every node's WalStorage lives on its own PowerCutFs and each
 * simulated crash is a power cut of that node (unsynced data and directory entries dropped, or a
 * torn prefix kept). POWER_CUT_SEEDS seeds (default 300) must hold every invariant; with one of
 * the WAL's syncs removed, the same runs must report a violation (bug detection for the syncs the
 * simulator's save()-driven nodes reach; power-cut-sites.test.ts covers every site).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOAD_BEARING_SITES } from '../storage/power-cut-sites.ts';
import { runPowerCutSimulation } from './power-cut.ts';

const SEEDS = Number(process.env.POWER_CUT_SEEDS ?? 300);
/** Short runs with frequent crashes: many cuts per second of test time. */
const RUN = { steps: 1500, profile: { crashPerMs: 1 / 250 } } as const;

test(`simulator: ${SEEDS} seeds of 3 nodes whose crashes are power cuts hold every invariant`, () => {
  let cuts = 0;
  let restarts = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = runPowerCutSimulation({ seed, ...RUN });
    assert.deepEqual(
      r.violations.map((v) => `${v.kind}: ${v.message}`),
      [],
      `seed ${seed} (replay: runPowerCutSimulation({ seed: ${seed}, steps: ${RUN.steps}, profile: { crashPerMs: 1 / 250 } }))`,
    );
    assert.notEqual(r.recoveryMs, null, `seed ${seed}: the cluster recovered after healing`);
    assert.equal(r.cuts, r.stats.restarts, `seed ${seed}: one cut per restart`);
    cuts += r.cuts;
    restarts += r.stats.restarts;
  }
  assert.ok(cuts >= SEEDS, `${cuts} power cuts over ${SEEDS} seeds (${restarts} restarts)`);
});

test('simulator: 5 nodes, single-founder bootstrap, torn-prefix cuts', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const r = runPowerCutSimulation({ seed, nodes: 5, bootstrap: 'single', cutMode: 'prefix', ...RUN });
    assert.deepEqual(
      r.violations.map((v) => `${v.kind}: ${v.message}`),
      [],
      `seed ${seed}`,
    );
  }
});

/** The sites a simulated node reaches often enough (it saves with save(); overwrites over segments are rare there). */
const SIM_SITES = [
  'hardstate temp file fsync',
  'hardstate rename directory fsync',
  'logmeta temp file fsync',
  'save() fdatasync',
  'new segment directory fsync',
  'parent directory fsync after creating the WAL directory',
];

for (const name of SIM_SITES) {
  const site = LOAD_BEARING_SITES.find((s) => s.name === name);
  test(`simulator: removing the ${name} is reported as a violation`, () => {
    assert.ok(site !== undefined, `unknown site ${name}`);
    let skipped = 0;
    for (let seed = 1; seed <= 20; seed++) {
      let violations: string[];
      let r: ReturnType<typeof runPowerCutSimulation>;
      try {
        r = runPowerCutSimulation({ seed, ...RUN, cutMode: 'drop', fs: { skipSync: site.matches } });
        violations = r.violations.map((v) => `${v.kind}: ${v.message}`);
        skipped += r.syncsSkipped;
      } catch (err) {
        violations = [String(err)];
      }
      if (violations.length > 0) return;
    }
    assert.fail(`no seed in 1..20 reported the missing sync (${skipped} calls skipped)`);
  });
}
