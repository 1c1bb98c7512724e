/**
 * Opening a node from its data directory: identity, bootstrap, storage, state machine, wiring.
 *
 * Why separate from the runtime: the runtime takes ready-made parts (so its tests can use
 * in-memory ones); this file decides what a data directory means on start — refuse a removed
 * node, bootstrap an empty one (no -join), adopt the cluster id when joining, restart from disk
 * otherwise (never bootstrapping again), and load the newest usable snapshot into the kv.
 */
import { GraftdError } from '../errors.ts';
import { KvStateMachine } from '../kv/state-machine.ts';
import type { Log } from '../log.ts';
import { createRaft } from '../raft/index.ts';
import type { SnapshotMeta } from '../raft/types.ts';
import { openSnapshotStore, openWalStorage } from '../storage/index.ts';
import { type PeerSecurity, createTransport, parseHostPort } from '../transport/index.ts';
import type { MemberView } from './api.ts';
import { type FoundingMember, bootstrapDataDir } from './bootstrap.ts';
import type { RuntimeConfig } from './config.ts';
import {
  dataDirPaths,
  ensureDataDir,
  hasJoiningMarker,
  hasOrphanData,
  readIdentity,
  readRemovedMarker,
  writeIdentity,
  writeJoiningMarker,
} from './data-dir.ts';
import type { NodeSnapshotStore, NodeStorage } from './deps.ts';
import { randomSeed, seededRandom } from './random.ts';
import { GraftdRuntime } from './graftd-node.ts';
import { KvStore } from '../kv/store.ts';
import type { HistoryLimits } from '../kv/history.ts';
import { RaftRuntime } from './runtime.ts';
import type { StateMachine } from './state-machine.ts';

export interface OpenNodeOptions {
  readonly id: string;
  readonly dataDir: string;
  /** Address the raft listener binds, e.g. 0.0.0.0:12000. */
  readonly raftListenAddr: string;
  /** Address peers use to reach this node (equal to raftListenAddr unless that is a wildcard). */
  readonly raftAddr: string;
  /** Address clients and followers use to reach this node's HTTP API. */
  readonly httpAddr: string;
  readonly config: RuntimeConfig;
  readonly log: Log;
  /**
   * What to do when the directory holds no state: 'bootstrap' a one-node cluster, or 'join' an
   * existing one (then `clusterId` is required). Ignored when the node already has state.
   */
  readonly ifEmpty: 'bootstrap' | 'join';
  /** The cluster id of the cluster being joined, or founded with `founders`. */
  readonly clusterId?: string;
  /**
   * With ifEmpty 'bootstrap': found a cluster of these voters (every founder is given the same list
   * and `clusterId`, -initial-cluster) instead of a one-node cluster.
   */
  readonly founders?: readonly FoundingMember[];
  /** Members known before joining (their raft addresses let this node answer the leader). */
  readonly seedPeers?: readonly MemberView[];
  /** graftd only (openNode): bounds of the key-value store's change history behind watch streams. */
  readonly watchHistory?: HistoryLimits;
  /** Cluster secret and/or TLS material for the raft port (absent: plaintext, loopback development). */
  readonly peerSecurity?: PeerSecurity;
}

/** The message printed when a removed node is started again. */
export function removedMessage(id: string, dataDir: string): string {
  return `node ${id} was removed from the cluster and will not start again with this data directory; to rejoin, wipe ${dataDir} and start it with -join`;
}

/** True when the data directory holds a node's state (it restarts rather than bootstraps or joins). */
export function hasState(dataDir: string): boolean {
  return readIdentity(dataDir) !== undefined;
}

/** The newest snapshot usable on restart: checksum-valid, within the log and the commit index, not older than the log's own snapshot. */
function chooseSnapshot(store: NodeSnapshotStore, storage: NodeStorage): SnapshotMeta | undefined {
  const walSnap = storage.snapshotMeta().index;
  const limit = Math.min(storage.lastIndex(), storage.initialState().hardState.commit);
  const usable = (m: SnapshotMeta): boolean => m.index >= walSnap && m.index <= Math.max(limit, walSnap);
  const latest = store.latest();
  if (latest !== null && usable(latest.meta)) return latest.meta;
  const older = [...store.list()].reverse().find((s) => usable(s.meta) && (latest === null || s.meta.index < latest.meta.index));
  return older?.meta;
}

/** Open (bootstrapping or adopting a cluster id when empty) the graftd key-value node in `options.dataDir`. Not started yet: call start(). */
export async function openNode(options: OpenNodeOptions): Promise<GraftdRuntime> {
  refuseLegacyKvDir(options.dataDir);
  const store = new KvStore(undefined, options.watchHistory);
  return new GraftdRuntime(await openRaftNode({ ...options, stateMachine: new KvStateMachine(store) }));
}

/**
 * A data directory written by graftd 0.1.0 (node.json version 1) holds key-value state without
 * revisions or leases. Its log cannot be continued in place: nodes whose snapshots were taken at
 * different indexes would rebuild different revisions. The supported upgrade is a backup taken
 * with 0.1.0 restored into a new cluster (the restore is deterministic on every node).
 */
function refuseLegacyKvDir(dataDir: string): void {
  if (readIdentity(dataDir)?.version !== 1) return;
  throw new GraftdError(
    'GRAFTD_BAD_CONFIG',
    `data directory ${dataDir} was written by graftd 0.1.0 (node.json version 1, no revisions or leases) and cannot be continued in place; take a backup with graftctl backup from the old cluster and restore it into a new one (docs/operations.md → Upgrades)`,
  );
}

/**
 * Open the node in `options.dataDir` for `options.stateMachine` (a fresh, empty one): bootstrap or
 * adopt a cluster id when the directory is empty, restore the state machine from the newest usable
 * snapshot. Not started yet: call start().
 */
export async function openRaftNode<SM extends StateMachine<unknown>>(
  options: OpenNodeOptions & { readonly stateMachine: SM },
): Promise<RaftRuntime<SM>> {
  const { id, dataDir, log } = options;
  ensureDataDir(dataDir);
  if (readRemovedMarker(dataDir) !== undefined) throw new GraftdError('GRAFTD_REMOVED', removedMessage(id, dataDir));
  let identity = readIdentity(dataDir);
  let foundedAlone = false;
  if (identity !== undefined && identity.id !== id) {
    throw new GraftdError(
      'GRAFTD_BAD_CONFIG',
      `data directory ${dataDir} belongs to node "${identity.id}", not "${id}"; use -id ${identity.id} or another directory`,
    );
  }
  if (identity === undefined) {
    if (hasOrphanData(dataDir)) {
      throw new GraftdError(
        'GRAFTD_BAD_CONFIG',
        `data directory ${dataDir} holds raft data but no node.json (an interrupted bootstrap or join); wipe it and start again`,
      );
    }
    if (options.ifEmpty === 'bootstrap' && options.founders !== undefined) {
      if (options.clusterId === undefined || options.clusterId === '')
        throw new GraftdError('GRAFTD_BAD_CONFIG', 'founding with -initial-cluster needs the cluster id');
      const self = { id, raftAddr: options.raftAddr, httpAddr: options.httpAddr };
      identity = bootstrapDataDir(dataDir, self, options.clusterId, options.founders);
      log.info(
        { clusterId: identity.clusterId, founders: options.founders.map((f) => f.id) },
        'founded a new cluster with the members of -initial-cluster; a leader is elected once a majority of them runs',
      );
    } else if (options.ifEmpty === 'bootstrap') {
      identity = bootstrapDataDir(dataDir, { id, raftAddr: options.raftAddr, httpAddr: options.httpAddr });
      foundedAlone = true;
      log.warn(
        { clusterId: identity.clusterId },
        'bootstrapped a new one-node cluster (started without -join or -initial-cluster); if this node was meant to join an existing cluster, stop it, wipe its data directory and start it with -join',
      );
    } else {
      if (options.clusterId === undefined || options.clusterId === '')
        throw new GraftdError('GRAFTD_BAD_CONFIG', 'joining needs the cluster id');
      writeJoiningMarker(dataDir); // before node.json: a crash in between still restarts guarded
      writeIdentity(dataDir, { id, clusterId: options.clusterId });
      identity = { version: 2, id, clusterId: options.clusterId };
      log.info({ clusterId: identity.clusterId }, 'joining cluster');
    }
  } else if (options.founders !== undefined) {
    log.info({}, "the data directory already holds this node's state: -initial-cluster is ignored");
  } else if (options.clusterId !== undefined && options.clusterId !== identity.clusterId) {
    throw new GraftdError(
      'GRAFTD_CLUSTER_MISMATCH',
      `this node belongs to cluster ${identity.clusterId} but the node it joins through is in cluster ${options.clusterId}; wipe ${dataDir} to join that cluster`,
    );
  }
  const paths = dataDirPaths(dataDir);
  const snapshots = openSnapshotStore(paths.snapshotDir, { log: log.child({ component: 'snapshots' }) });
  const storage = openWalStorage(paths.walDir, { log: log.child({ component: 'wal' }), cacheBytes: options.config.logCacheBytes });
  try {
    const chosen = chooseSnapshot(snapshots, storage);
    const walSnapshot = storage.snapshotMeta().index;
    if (chosen === undefined && walSnapshot > 0) {
      // The log no longer holds entries up to walSnapshot: without that snapshot the state cannot be rebuilt.
      throw new GraftdError(
        'GRAFTD_CORRUPT',
        `the log was compacted up to index ${walSnapshot} but ${paths.snapshotDir} holds no valid snapshot at or after it; restore this node from a backup (graftd --restore) or wipe ${dataDir} and rejoin the cluster`,
      );
    }
    if (chosen !== undefined && chosen.index > storage.snapshotMeta().index) storage.createSnapshot(chosen);
    const sm = options.stateMachine;
    if (chosen !== undefined) (await sm.restore(snapshots.read(chosen.index))).install();
    const seed = randomSeed();
    log.info({ snapshotIndex: chosen?.index ?? 0, ...sm.describe?.(), lastIndex: storage.lastIndex(), randomSeed: seed }, 'state loaded');
    const listen = parseHostPort(options.raftListenAddr, 'raft address');
    const wildcard = listen.host === '0.0.0.0' || listen.host === '::';
    return new RaftRuntime({
      id,
      clusterId: identity.clusterId,
      dataDir,
      raftAddr: options.raftAddr,
      httpAddr: options.httpAddr,
      config: options.config,
      log,
      storage,
      snapshots,
      stateMachine: sm,
      applied: chosen?.index ?? 0,
      joining: hasJoiningMarker(dataDir),
      peerSecured: options.peerSecurity?.secret !== undefined || options.peerSecurity?.tls !== undefined,
      createRaft,
      createTransport: (handlers) =>
        createTransport({
          clusterId: identity.clusterId,
          nodeId: id,
          listenAddr: options.raftListenAddr,
          bindHost: wildcard ? '' : listen.host,
          advertiseAddr: options.raftAddr,
          ...(options.peerSecurity === undefined ? {} : { security: options.peerSecurity }),
          ...handlers,
          log: log.child({ component: 'transport' }),
        }),
      random: seededRandom(seed),
      ...(foundedAlone ? { foundingQuietMs: options.config.foundingQuietMs } : {}),
      ...(options.seedPeers === undefined ? {} : { seedPeers: options.seedPeers }),
    });
  } catch (err) {
    storage.close();
    throw err;
  }
}
