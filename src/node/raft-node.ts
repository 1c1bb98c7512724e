/**
 * createRaftNode: open (or bootstrap, or prepare to join) a raft node for any state machine in a
 * data directory, and start it.
 *
 * Why a separate entry: open.ts takes graftd's full option set (HTTP address, parsed config, a
 * logger); an embedder gives the few things that matter (state-machine.ts RaftNodeOptions) and
 * gets defaults for the rest.
 */
import { silentLog } from '../log.ts';
import { runtimeConfigFrom } from './config.ts';
import { openRaftNode } from './open.ts';
import type { RaftRuntime } from './runtime.ts';
import type { RaftNodeOptions, StateMachine } from './state-machine.ts';

/**
 * Open the node in `options.dataDir` and start it: it listens on its raft address and takes part
 * in the cluster as soon as this resolves. Rejects with a coded GraftdError when the directory
 * belongs to another node or cluster, holds a removed node, cannot be read, the raft address
 * cannot be bound, or `config` breaks a rule graftd's own settings follow (GRAFTD_BAD_CONFIG, from
 * the same validateRuntimeConfig as graftd's environment parsing: election timeout ≥ 2 × heartbeat,
 * leader lease timeout ≤ election timeout, a positive lease window, whole numbers); nothing keeps
 * running then.
 */
export async function createRaftNode<SM extends StateMachine<unknown>>(options: RaftNodeOptions<SM>): Promise<RaftRuntime<SM>> {
  const node = await openRaftNode({
    id: options.id,
    dataDir: options.dataDir,
    raftAddr: options.raftAddr,
    raftListenAddr: options.raftListenAddr ?? options.raftAddr,
    httpAddr: options.httpAddr ?? '',
    config: runtimeConfigFrom(options.config),
    log: options.log ?? silentLog,
    ifEmpty: options.ifEmpty ?? 'bootstrap',
    stateMachine: options.stateMachine,
    ...(options.clusterId === undefined ? {} : { clusterId: options.clusterId }),
    ...(options.founders === undefined ? {} : { founders: options.founders }),
    ...(options.seedPeers === undefined ? {} : { seedPeers: options.seedPeers }),
    ...(options.peerSecurity === undefined ? {} : { peerSecurity: options.peerSecurity }),
  });
  try {
    await node.start();
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}
