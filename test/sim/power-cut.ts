/**
 * The simulator with every node's WalStorage on its own {@link PowerCutFs}: a simulated crash is
 * a power cut of that node's machine. At the restart the node's file system drops (or, in the
 * seeded modes, partly keeps) everything not yet fsynced, and the WAL is recovered from what is
 * left; the simulator's invariants then check that nothing the node had persisted is missing.
 *
 * Why a separate module: the cluster driver stays storage-agnostic (storageFactory and
 * reopenStorage are its only hooks); the one thing it must know is that a commit index carried
 * only by a commit-only save may be lost (volatileCommit), as Raft allows.
 */
import type { NodeId, Storage } from '../../src/raft/types.ts';
import { type WalStorage, openWalStorage } from '../../src/storage/index.ts';
import { nullLog } from '../../src/storage/null-log.ts';
import { type CutMode, PowerCutFs, type PowerCutFsOptions } from '../storage/power-cut-fs.ts';
import { Prng } from './prng.ts';
import { type SimOptions, type SimResult, runSimulation } from './simulation.ts';

export interface PowerCutSimOptions extends Omit<SimOptions, 'storageFactory' | 'reopenStorage' | 'volatileCommit'> {
  /** What a cut keeps of unsynced writes: one mode, or 'mixed' (drawn per cut: drop or prefix). Default 'mixed'. */
  readonly cutMode?: CutMode | 'mixed';
  /** Fault switches of every node's file system (bug-detection tests). */
  readonly fs?: Pick<PowerCutFsOptions, 'skipSync'>;
  /** WAL segment size (small, so rotation and segment removal happen). Default 2048. */
  readonly segmentBytes?: number;
}

export interface PowerCutSimResult extends SimResult {
  /** Power cuts applied (one per restart). */
  readonly cuts: number;
  /** Unsynced bytes and directory changes the cuts discarded (with every sync in place: only what nothing depended on). */
  readonly bytesLost: number;
  readonly dirOpsLost: number;
  readonly syncsSkipped: number;
}

/** Run one seeded simulation whose crashes are power cuts of WalStorage-on-PowerCutFs nodes. */
export function runPowerCutSimulation(o: PowerCutSimOptions): PowerCutSimResult {
  const rng = new Prng(o.seed ^ 0x5eed);
  const machines = new Map<NodeId, PowerCutFs>();
  const dirOf = new Map<Storage, string>();
  let fresh = 0;
  const machine = (id: NodeId): PowerCutFs => {
    let fs = machines.get(id);
    if (fs === undefined) {
      fs = new PowerCutFs({ seed: rng.nextU32(), dirs: ['/data'], ...o.fs });
      machines.set(id, fs);
    }
    return fs;
  };
  const open = (id: NodeId, dir: string): WalStorage => {
    const s = openWalStorage(dir, {
      fs: machine(id),
      segmentBytes: o.segmentBytes ?? 2048,
      cacheEntries: 8,
      log: nullLog,
      reserveBytes: 0,
    });
    dirOf.set(s, dir);
    return s;
  };
  const mode = o.cutMode ?? 'mixed';
  const r = runSimulation({
    ...o,
    volatileCommit: true,
    // A new machine disk for a wiped node: a fresh directory on the node's file system.
    storageFactory: (id) => open(id, `/data/${id}-${fresh++}`),
    reopenStorage: (id, survivor) => {
      // The crashed process never closed its WAL: the power went, and the restart finds only what was synced.
      const fs = machine(id);
      fs.powerCut(mode === 'mixed' ? (rng.chance(0.5) ? 'drop' : 'prefix') : mode);
      return open(id, dirOf.get(survivor) as string);
    },
  });
  let cuts = 0;
  let bytesLost = 0;
  let syncsSkipped = 0;
  let dirOpsLost = 0;
  for (const fs of machines.values()) {
    cuts += fs.stats.cuts;
    bytesLost += fs.stats.bytesLost;
    syncsSkipped += fs.stats.syncsSkipped;
    dirOpsLost += fs.stats.dirOpsLost;
  }
  return { ...r, cuts, bytesLost, dirOpsLost, syncsSkipped };
}
