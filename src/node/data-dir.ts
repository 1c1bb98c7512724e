/**
 * The layout of a node's data directory, and the small files the runtime keeps there.
 *
 * Why documented here: `graftd --restore FILE DATA_DIR` and operators' runbooks write or
 * inspect this layout; this file is the single place that defines it.
 *
 *   DATA_DIR/
 *     node.json     {"version":2,"id":"node0","clusterId":"…"} — written once, atomically, when
 *                   the node first gets state (bootstrap, restore or join). Its presence means
 *                   "this node has state": it restarts from disk and never bootstraps again.
 *                   Version 1 was written by graftd 0.1.0, whose key-value state had no revisions
 *                   or leases: graftd refuses to continue such a directory in place (see open.ts).
 *     wal/          the raft log and hard state (src/storage openWalStorage)
 *     snapshots/    state-machine snapshots, the key-value map in the src/kv snapshot format,
 *                   with raft metadata (index, term, membership) (src/storage openSnapshotStore)
 *     REMOVED       present once the node applied its own removal from the cluster; a node
 *                   that finds it refuses to start (wipe the directory to rejoin as a new node)
 *     JOINING       present from the moment a node joins with an empty directory until it has
 *                   caught up with the leader's commit index (see join-guard.ts): until then it
 *                   never campaigns, even across restarts
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GraftdError } from '../errors.ts';
import { type FsLike, mkdirDurable, nodeFs } from '../storage/fs-like.ts';

/** Contents of DATA_DIR/node.json. */
export interface NodeIdentity {
  /** 2 since issue 13 (the key-value data model with revisions); 1 = written by graftd 0.1.0. */
  readonly version: 1 | 2;
  readonly id: string;
  readonly clusterId: string;
}

/** Paths inside a data directory. */
export function dataDirPaths(dataDir: string): {
  nodeFile: string;
  walDir: string;
  snapshotDir: string;
  removedFile: string;
  joiningFile: string;
  foreignFile: string;
} {
  return {
    nodeFile: join(dataDir, 'node.json'),
    walDir: join(dataDir, 'wal'),
    snapshotDir: join(dataDir, 'snapshots'),
    removedFile: join(dataDir, 'REMOVED'),
    joiningFile: join(dataDir, 'JOINING'),
    foreignFile: join(dataDir, 'FOREIGN_CLUSTER'),
  };
}

/** A new random cluster id (16 hex digits). */
export function newClusterId(): string {
  return randomBytes(8).toString('hex');
}

/** Write `content` to `file` atomically: temp file, fsync, rename, fsync the directory. */
export function writeFileAtomic(dir: string, file: string, content: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Create the data directory (and parents) if missing. Throws GRAFTD_BAD_CONFIG with a readable message when impossible. */
export function ensureDataDir(dataDir: string, fsl: FsLike = nodeFs): void {
  try {
    // Durably: every level created is an entry in its parent, lost at a power cut unless fsynced.
    mkdirDurable(fsl, resolve(dataDir));
  } catch (err) {
    throw new GraftdError('GRAFTD_BAD_CONFIG', `cannot create data directory ${dataDir}: ${(err as Error).message}`);
  }
}

/** The identity in node.json, or undefined when the node has no state yet. Throws GRAFTD_CORRUPT on an unreadable file. */
export function readIdentity(dataDir: string): NodeIdentity | undefined {
  const { nodeFile } = dataDirPaths(dataDir);
  if (!existsSync(nodeFile)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(nodeFile, 'utf8'));
  } catch (err) {
    throw new GraftdError(
      'GRAFTD_CORRUPT',
      `${nodeFile} is not valid JSON (${(err as Error).message}); restore the node from a backup or wipe ${dataDir} and rejoin`,
    );
  }
  const o = v as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || typeof o.id !== 'string' || typeof o.clusterId !== 'string') {
    throw new GraftdError('GRAFTD_CORRUPT', `${nodeFile} does not hold {"id","clusterId"}`);
  }
  return { version: o.version === 1 ? 1 : 2, id: o.id, clusterId: o.clusterId };
}

/** Write node.json (atomically). */
export function writeIdentity(dataDir: string, identity: Omit<NodeIdentity, 'version'>): void {
  ensureDataDir(dataDir);
  const { nodeFile } = dataDirPaths(dataDir);
  writeFileAtomic(dataDir, nodeFile, `${JSON.stringify({ version: 2, id: identity.id, clusterId: identity.clusterId })}\n`);
}

/** True when the directory holds raft data (wal/ or snapshots/ with files) but no node.json: a bootstrap or join that crashed half way. */
export function hasOrphanData(dataDir: string): boolean {
  const { nodeFile, walDir, snapshotDir } = dataDirPaths(dataDir);
  if (existsSync(nodeFile)) return false;
  const nonEmpty = (d: string): boolean => existsSync(d) && readdirSync(d).length > 0;
  return nonEmpty(walDir) || nonEmpty(snapshotDir);
}

/** The REMOVED marker's content, or undefined when the node was not removed. */
export function readRemovedMarker(dataDir: string): string | undefined {
  const { removedFile } = dataDirPaths(dataDir);
  return existsSync(removedFile) ? readFileSync(removedFile, 'utf8') : undefined;
}

/** Record that this node applied its own removal at `index`. */
export function writeRemovedMarker(dataDir: string, info: { id: string; index: number }): void {
  const { removedFile } = dataDirPaths(dataDir);
  writeFileAtomic(dataDir, removedFile, `${JSON.stringify({ id: info.id, removedAtIndex: info.index, at: new Date().toISOString() })}\n`);
}

/** What the FOREIGN_CLUSTER marker records: another cluster listed this one-node cluster's only member (see foreign-cluster.ts). */
export interface ForeignClusterRecord {
  readonly clusterId: string;
  readonly from: string;
  readonly at: string;
  /** This node's own commit index when it found out: entries up to it were acknowledged by the accidental cluster. */
  readonly ownCommit: number;
}

/** The FOREIGN_CLUSTER marker, or undefined. An unreadable marker still counts (it names no cluster). */
export function readForeignMarker(dataDir: string): ForeignClusterRecord | undefined {
  const { foreignFile } = dataDirPaths(dataDir);
  if (!existsSync(foreignFile)) return undefined;
  try {
    const o = JSON.parse(readFileSync(foreignFile, 'utf8')) as Partial<ForeignClusterRecord>;
    return {
      clusterId: String(o.clusterId ?? '?'),
      from: String(o.from ?? '?'),
      at: String(o.at ?? '?'),
      ownCommit: Number(o.ownCommit ?? 0),
    };
  } catch {
    return { clusterId: '?', from: '?', at: '?', ownCommit: 0 };
  }
}

export function writeForeignMarker(dataDir: string, record: ForeignClusterRecord): void {
  writeFileAtomic(dataDir, dataDirPaths(dataDir).foreignFile, `${JSON.stringify(record)}\n`);
}

/** True while the node is still catching up after joining with an empty directory. */
export function hasJoiningMarker(dataDir: string): boolean {
  return existsSync(dataDirPaths(dataDir).joiningFile);
}

/** Mark the start of a join with an empty directory (before node.json is written). */
export function writeJoiningMarker(dataDir: string): void {
  ensureDataDir(dataDir);
  writeFileAtomic(dataDir, dataDirPaths(dataDir).joiningFile, `${JSON.stringify({ at: new Date().toISOString() })}\n`);
}

/** The joined node has caught up: it may campaign from now on. */
export function clearJoiningMarker(dataDir: string): void {
  rmSync(dataDirPaths(dataDir).joiningFile, { force: true });
}
