/**
 * Bug detection: with any one fsync/fdatasync of the WAL removed (PowerCutFs turns the calls of
 * that site into no-ops), the power-cut workload must report lost or damaged acknowledged data;
 * likewise when saveAsync's promise resolves before its data is durable. The same workload with
 * every sync in place passes (power-cut-crash.test.ts), so each failure here is the missing sync.
 *
 * Seeds are tried in order until one reports the loss (most sites fail on the first seed; the
 * rarer windows — an overwrite that removed segments, the WAL directory's own entry — take a
 * few). The same seeds replay exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOAD_BEARING_SITES, type SyncSite } from './power-cut-sites.ts';
import { type WorkloadOptions, type WorkloadResult, runPowerCutWorkload } from './power-cut-workload.ts';

const MAX_SEEDS = 12;

async function firstDetection(base: Omit<WorkloadOptions, 'seed'>): Promise<{ seed: number; r: WorkloadResult; skipped: number }> {
  let skipped = 0;
  for (let seed = 1; seed <= MAX_SEEDS; seed++) {
    // Odd seeds drop every unsynced write (the plainest loss), even ones keep torn prefixes.
    const r = await runPowerCutWorkload({ mode: seed % 2 === 1 ? 'drop' : 'mixed', ...base, seed });
    skipped += r.syncsSkipped;
    if (r.problems.length > 0) return { seed, r, skipped };
  }
  return { seed: -1, r: { problems: [], rounds: 0, acked: 0, corruptions: 0, bytesLost: 0, syncsSkipped: 0 }, skipped };
}

/** Workload settings that reach a site's window often. */
function settingsFor(site: SyncSite): Omit<WorkloadOptions, 'seed'> {
  const rounds = 40;
  if (site.name.includes('inline')) return { rounds, inlineSync: true };
  // Overwrites reaching back over segments, few other directory fsyncs that would cover the missing one.
  if (site.name.includes('truncation')) return { rounds, segmentBytes: 512, weights: { overwrite: 300, term: 5, snapshot: 5, install: 0 } };
  return { rounds };
}

for (const site of LOAD_BEARING_SITES) {
  test(`removing the ${site.name} (${site.where}) loses acknowledged data under a power cut`, async () => {
    const { seed, r, skipped } = await firstDetection({ ...settingsFor(site), fs: { skipSync: site.matches } });
    assert.ok(skipped > 0, `the site matched no sync call: has ${site.where} been renamed?`);
    assert.ok(seed > 0, `no seed in 1..${MAX_SEEDS} noticed the missing sync (${skipped} calls skipped)`);
    assert.ok(r.problems.length > 0);
  });
}

test('saveAsync resolving before its fdatasync has made the batch durable loses acknowledged data under a power cut', async () => {
  const { seed } = await firstDetection({ rounds: 40, fs: { lateAsyncSync: true } });
  assert.ok(seed > 0, `no seed in 1..${MAX_SEEDS} noticed`);
});
