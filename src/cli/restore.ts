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
 *
 * Safety checks (issue 17): the node's id and addresses must not contradict the membership the
 * backup records (src/client/backup-format.ts) — a node restored with another member's
 * addresses would lead while advertising the wrong address; and a repeated `graftd --restore`
 * with the same file on the directory it seeded is a no-op (DATA_DIR/RESTORED records the
 * file's SHA-256), so a restart policy does not crash-loop on it.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type BackupMeta, verifyBackupFile } from '../client/backup-format.ts';
import { GraftdError } from '../errors.ts';
import { writeSnapshot } from '../kv/index.ts';
import { dataDirPaths, ensureDataDir, newClusterId, readIdentity, writeFileAtomic, writeIdentity } from '../node/data-dir.ts';
import { encodeMemberContext } from '../node/members.ts';
import type { SnapshotMeta } from '../raft/types.ts';
import { openSnapshotStore, openWalStorage } from '../storage/index.ts';
import { parseHostPort } from '../transport/addr.ts';

/** The restored node's identity and addresses (use the same when starting graftd). */
export interface RestoreNode {
  readonly id: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
}

export interface RestoreOptions {
  /**
   * Accept a node id the backup lists with other addresses, or addresses the backup gives to
   * another member (a deliberate move to new machines). Default false: refused, mismatch named.
   */
  readonly newAddresses?: boolean;
}

/** What was restored. */
export interface RestoreResult {
  readonly keys: number;
  /** Raft index of the seeded snapshot. */
  readonly index: number;
  readonly clusterId: string;
  /** SHA-256 of the backup file (recorded in DATA_DIR/RESTORED). */
  readonly sha256: string;
  /** True when the data directory had already been restored from this very file: nothing was written. */
  readonly alreadyRestored: boolean;
  /** Things the operator should know (a backup without membership, a new member id). */
  readonly notes: readonly string[];
  /** The backup's metadata header (null for a bare GET /snapshot file). */
  readonly backup: BackupMeta | null;
}

/** DATA_DIR/RESTORED: which backup seeded this directory (makes a repeated --restore a no-op). */
interface RestoredMarker {
  readonly version: 1;
  readonly sha256: string;
  readonly file: string;
  readonly id: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  readonly keys: number;
  readonly restoredAt: string;
}

/** Name of the marker file in the data directory. */
export const RESTORED_MARKER = 'RESTORED';

/** Index and term of the seeded snapshot: the position of a one-node bootstrap entry. */
const SEED_INDEX = 1;
const SEED_TERM = 1;

function refuse(message: string): never {
  throw new GraftdError('GRAFTD_BAD_CONFIG', message);
}

function readMarker(dataDir: string): RestoredMarker | undefined {
  const file = join(dataDir, RESTORED_MARKER);
  if (!existsSync(file)) return undefined;
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as Partial<RestoredMarker>;
    if (typeof o.sha256 === 'string' && typeof o.id === 'string') return o as RestoredMarker;
  } catch {
    // unreadable: treated as no marker (the directory is then refused as non-empty)
  }
  return undefined;
}

function writeMarker(dataDir: string, marker: RestoredMarker): void {
  writeFileAtomic(dataDir, join(dataDir, RESTORED_MARKER), `${JSON.stringify(marker)}\n`);
}

function checkAddress(addr: string, what: string): void {
  try {
    const { port } = parseHostPort(addr, what);
    if (port === 0) refuse(`invalid ${what} ${JSON.stringify(addr)}: port 0; expected host:port, e.g. 127.0.0.1:12000`);
  } catch (err) {
    if (err instanceof GraftdError) refuse(err.message);
    throw err;
  }
}

/**
 * The membership check: the backup's members must not contradict the node being restored.
 * Returns notes for the operator; throws GRAFTD_BAD_CONFIG naming the mismatch.
 */
export function checkAgainstBackup(meta: BackupMeta | null, node: RestoreNode, options: RestoreOptions = {}): string[] {
  if (meta === null) {
    return ['the backup carries no membership (a bare GET /snapshot file): the node id and addresses could not be checked'];
  }
  const names = meta.members.map((m) => m.id).join(', ');
  const self = meta.members.find((m) => m.id === node.id);
  const problems: string[] = [];
  if (self !== undefined) {
    if (self.raftAddr !== node.raftAddr) problems.push(`raft address ${node.raftAddr} (the backup has ${self.raftAddr})`);
    if (self.httpAddr !== '' && self.httpAddr !== node.httpAddr)
      problems.push(`HTTP address ${node.httpAddr} (the backup has ${self.httpAddr})`);
  }
  for (const other of meta.members) {
    if (other.id === node.id) continue;
    if (other.raftAddr === node.raftAddr) problems.push(`raft address ${node.raftAddr}, which the backup gives to member ${other.id}`);
    if (other.httpAddr !== '' && other.httpAddr === node.httpAddr)
      problems.push(`HTTP address ${node.httpAddr}, which the backup gives to member ${other.id}`);
  }
  if (problems.length > 0 && options.newAddresses !== true) {
    refuse(
      `refusing to restore ${node.id} with ${problems.join(' and ')}: the backup of cluster ${meta.clusterId} lists ${meta.members
        .map((m) => `${m.id} at ${m.raftAddr}${m.httpAddr === '' ? '' : ` (HTTP ${m.httpAddr})`}`)
        .join(', ')}. Give the node its own addresses from the backup; to move it to new addresses on purpose, ` +
        'seed the directory with graftctl restore ... --new-addresses, then start graftd without --restore',
    );
  }
  const notes: string[] = [];
  if (problems.length > 0) notes.push(`${node.id} restored with ${problems.join(' and ')} (--new-addresses)`);
  if (self === undefined) notes.push(`${node.id} is not one of the backup's members (${names}): it founds a new cluster under a new name`);
  return notes;
}

/**
 * Seed `dataDir` (absent or empty) from the backup `file` as a one-node cluster of `node`.
 * Validates the whole backup (header, records, checksums) and the node against the backup's
 * membership before writing anything. A directory this very file (same SHA-256, same id) already
 * seeded is left alone (alreadyRestored: a restart with the same --restore is a no-op). Throws
 * GRAFTD_BAD_CONFIG (bad arguments, mismatch, non-empty dir) or GRAFTD_CORRUPT (bad backup).
 */
export async function restoreDataDir(
  file: string,
  dataDir: string,
  node: RestoreNode,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  if (node.id === '') refuse('restore needs a node id');
  if (node.raftAddr === '' || node.httpAddr === '') refuse('restore needs the raft and HTTP addresses the node will use');
  checkAddress(node.raftAddr, 'raft address');
  checkAddress(node.httpAddr, 'HTTP address');
  if (!existsSync(file) || !statSync(file).isFile()) refuse(`backup file ${file} does not exist`);

  // Validate first: the header, every record length and both checksums.
  const backup = await verifyBackupFile(file);
  const store = backup.store;

  if (existsSync(dataDir)) {
    if (!statSync(dataDir).isDirectory()) refuse(`${dataDir} exists and is not a directory`);
    const entries = readdirSync(dataDir);
    const marker = entries.length > 0 ? readMarker(dataDir) : undefined;
    if (marker !== undefined && marker.sha256 === backup.sha256 && marker.id === node.id) {
      if (readIdentity(dataDir) !== undefined) {
        return {
          keys: marker.keys,
          index: SEED_INDEX,
          clusterId: readIdentity(dataDir)?.clusterId ?? '',
          sha256: backup.sha256,
          alreadyRestored: true,
          notes: [],
          backup: backup.meta,
        };
      }
      // A restore of this file that stopped before node.json: nothing ever ran here; start over.
      for (const entry of entries) rmSync(join(dataDir, entry), { recursive: true, force: true });
    } else if (marker !== undefined) {
      refuse(
        `data directory ${dataDir} was restored from another backup (${marker.file}, sha256 ${marker.sha256.slice(0, 12)}…, as ${marker.id}); ` +
          'restore seeds a NEW node: use an empty directory',
      );
    } else if (entries.length > 0) {
      refuse(
        `data directory ${dataDir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); restore seeds a NEW node: use an empty directory`,
      );
    }
  }
  const notes = checkAgainstBackup(backup.meta, node, options);

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

  writeMarker(dataDir, {
    version: 1,
    sha256: backup.sha256,
    file,
    id: node.id,
    raftAddr: node.raftAddr,
    httpAddr: node.httpAddr,
    keys: store.size,
    restoredAt: new Date().toISOString(),
  });
  // Written last: its presence means "has state" (src/node/data-dir.ts).
  const clusterId = newClusterId();
  writeIdentity(dataDir, { id: node.id, clusterId });
  return { keys: store.size, index: SEED_INDEX, clusterId, sha256: backup.sha256, alreadyRestored: false, notes, backup: backup.meta };
}
