/**
 * Restore: seed a NEW one-node cluster's data directory from a backup (GET /snapshot).
 *
 * Why a new cluster and not "restore in place": a backup has no raft history, and writing it
 * into a live cluster's log would fork it. The safe path (etcd's `snapshot restore`, rqlite's
 * auto-restore) is a fresh cluster whose first node starts from the backup as its snapshot and
 * which the other nodes then join (they receive that snapshot from it).
 *
 * Layout written (src/node/data-dir.ts): snapshots/ holds the data as a snapshot at index 1,
 * term 1 whose membership is just this node as voter; wal/ is empty past that snapshot with
 * hard state {term 1, commit 1}; node.json (written last: its presence means "has state")
 * carries the id and a new cluster id. `graftd -id ID DATA_DIR` then starts as a one-node
 * cluster, elects itself and serves exactly the backup's keys.
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { GraftdError } from '../errors.ts';
import { restoreSnapshot, writeSnapshot } from '../kv/index.ts';
import { dataDirPaths, ensureDataDir, newClusterId, writeIdentity } from '../node/data-dir.ts';
import { encodeMemberContext } from '../node/members.ts';
import type { SnapshotMeta } from '../raft/types.ts';
import { openSnapshotStore, openWalStorage } from '../storage/index.ts';

/** The restored node's identity and addresses (use the same when starting graftd). */
export interface RestoreNode {
  readonly id: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
}

/** What was restored. */
export interface RestoreResult {
  readonly keys: number;
  /** Raft index of the seeded snapshot. */
  readonly index: number;
  readonly clusterId: string;
}

/** Index and term of the seeded snapshot: the position of a one-node bootstrap entry. */
const SEED_INDEX = 1;
const SEED_TERM = 1;

function refuse(message: string): never {
  throw new GraftdError('GRAFTD_BAD_CONFIG', message, 400);
}

/**
 * Seed `dataDir` (absent or empty) from the backup `file` as a one-node cluster of `node`.
 * Validates the whole backup (format and checksum) before writing anything. Throws
 * GRAFTD_BAD_CONFIG (bad arguments, non-empty dir) or GRAFTD_CORRUPT (bad backup).
 */
export async function restoreDataDir(file: string, dataDir: string, node: RestoreNode): Promise<RestoreResult> {
  if (node.id === '') refuse('restore needs a node id');
  if (node.raftAddr === '' || node.httpAddr === '') refuse('restore needs the raft and HTTP addresses the node will use');
  if (!existsSync(file) || !statSync(file).isFile()) refuse(`backup file ${file} does not exist`);
  if (existsSync(dataDir)) {
    if (!statSync(dataDir).isDirectory()) refuse(`${dataDir} exists and is not a directory`);
    const entries = readdirSync(dataDir);
    if (entries.length > 0) {
      refuse(
        `data directory ${dataDir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); restore seeds a NEW node: use an empty directory`,
      );
    }
  }

  // Validate first: the kv reader checks the header, every length and the trailing checksum.
  const store = await restoreSnapshot(createReadStream(file));

  ensureDataDir(dataDir);
  const paths = dataDirPaths(dataDir);
  const meta: SnapshotMeta = {
    index: SEED_INDEX,
    term: SEED_TERM,
    confState: {
      voters: [node.id],
      learners: [],
      context: { [node.id]: encodeMemberContext({ raftAddr: node.raftAddr, httpAddr: node.httpAddr, voter: true }) },
    },
  };

  const writer = openSnapshotStore(paths.snapshotDir).create(meta);
  try {
    for await (const chunk of writeSnapshot(store)) await writer.write(chunk);
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }

  const wal = openWalStorage(paths.walDir);
  try {
    wal.applySnapshot(meta);
    wal.save({ term: SEED_TERM, vote: '', commit: SEED_INDEX }, []);
  } finally {
    wal.close();
  }

  const clusterId = newClusterId();
  writeIdentity(dataDir, { id: node.id, clusterId });
  return { keys: store.size, index: SEED_INDEX, clusterId };
}
