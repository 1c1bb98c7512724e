/**
 * Seeding an empty data directory as a founder of a new cluster: alone (the original's first node
 * started without -join) or together with the other founders named by -initial-cluster.
 *
 * Why the log and not a snapshot: the founding membership is written as the core's bootstrap
 * entry (index 1, term 1, committed), so a node that joins later receives it from the leader
 * like any other entry. (`graftd --restore`, src/cli/restore.ts, seeds a snapshot instead,
 * because it also carries data.)
 */
import { rmSync } from 'node:fs';
import { GraftdError } from '../errors.ts';
import { bootstrap } from '../raft/index.ts';
import { openWalStorage } from '../storage/index.ts';
import { type NodeIdentity, dataDirPaths, ensureDataDir, hasOrphanData, newClusterId, readIdentity, writeIdentity } from './data-dir.ts';
import { encodeMemberContext } from './members.ts';

/** The founding member's identity and advertised addresses. */
export interface FoundingMember {
  readonly id: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
}

/**
 * Make `dataDir` (which must hold no state) the data directory of a founder of a new cluster whose
 * voters are `founders` (just `self` for a one-node cluster; every founder must be given the same
 * list and cluster id). node.json is written last, so a crash half way leaves a directory that is
 * refused at start (wipe it and retry) rather than half a cluster. Returns the new identity.
 */
export function bootstrapDataDir(
  dataDir: string,
  self: FoundingMember,
  clusterId: string = newClusterId(),
  founders: readonly FoundingMember[] = [self],
): NodeIdentity {
  if (!founders.some((f) => f.id === self.id)) {
    throw new GraftdError('GRAFTD_BAD_CONFIG', `node ${self.id} is not one of the founders ${founders.map((f) => f.id).join(', ')}`);
  }
  ensureDataDir(dataDir);
  if (readIdentity(dataDir) !== undefined || hasOrphanData(dataDir)) {
    throw new GraftdError('GRAFTD_BAD_CONFIG', `data directory ${dataDir} already holds raft state; refusing to bootstrap over it`);
  }
  const paths = dataDirPaths(dataDir);
  const members = founders.map((f) => ({
    id: f.id,
    context: encodeMemberContext({ raftAddr: f.raftAddr, httpAddr: f.id === self.id ? self.httpAddr : f.httpAddr, voter: true }),
  }));
  let ok = false;
  const wal = openWalStorage(paths.walDir);
  try {
    bootstrap(wal, members);
    ok = true;
  } finally {
    wal.close();
    // A failed bootstrap leaves nothing behind, so the command can simply be run again.
    if (!ok) rmSync(paths.walDir, { recursive: true, force: true });
  }
  writeIdentity(dataDir, { id: self.id, clusterId });
  return { version: 2, id: self.id, clusterId };
}
