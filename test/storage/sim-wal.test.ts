/**
 * The deterministic cluster simulator run over WalStorage (real files in a temp dir) instead of
 * MemoryStorage: every crash-restart closes the node's WAL and recovers it from disk, so the
 * simulator's invariants (election safety, log matching, leader completeness, state machine
 * safety, nothing persisted is lost) check the durable store end to end.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Storage } from '../../src/raft/types.ts';
import { type WalStorage, openWalStorage } from '../../src/storage/index.ts';
import { nullLog } from '../../src/storage/null-log.ts';
import { runSimulation } from '../sim/simulation.ts';
import { tempDir } from './helpers.ts';

const SEEDS = [1, 2, 3, 4, 5];

for (const seed of SEEDS) {
  test(`simulator seed ${seed} (3 nodes, crash-restarts) holds every invariant over WalStorage`, () => {
    const { dir, cleanup } = tempDir('graftd-sim-wal-');
    /** Every store opened (closed at the end) and the directory behind each. */
    const opened: WalStorage[] = [];
    const dirOf = new Map<Storage, string>();
    let fresh = 0;
    // Small segments and a small cache so rotation, compaction and disk reads all happen.
    const openAt = (sub: string): WalStorage => {
      const s = openWalStorage(path.join(dir, sub), { segmentBytes: 4096, cacheEntries: 8, log: nullLog });
      opened.push(s);
      dirOf.set(s, sub);
      return s;
    };
    let reopened = 0;
    try {
      const r = runSimulation({
        seed,
        nodes: 3,
        steps: 3000,
        // The factory must give an empty store (the simulator also uses it to wipe a removed node).
        storageFactory: (id) => openAt(`${id}-${fresh++}`),
        reopenStorage: (_id, survivor: Storage) => {
          (survivor as WalStorage).close();
          reopened++;
          return openAt(dirOf.get(survivor) as string);
        },
        profile: { crashPerMs: 1 / 300 },
      });
      assert.deepEqual(
        r.violations.map((v) => `${v.kind}: ${v.message}`),
        [],
      );
      assert.notEqual(r.recoveryMs, null, 'the cluster recovered after healing');
      assert.equal(reopened, r.stats.restarts);
      assert.ok(reopened > 0, 'the run restarted nodes');
      assert.ok(r.stats.committed > 0);
    } finally {
      for (const s of opened) s.close();
      cleanup();
    }
  });
}
