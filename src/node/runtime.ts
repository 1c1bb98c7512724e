/**
 * The generic raft node: drives the consensus core with a clock, the disk and the network for one
 * state machine (state-machine.ts), and takes its requests — proposals, reads, membership changes.
 * graftd's server is this node running the key-value state machine (graftd-node.ts adapts it to
 * the HTTP layer's GraftNode contract).
 *
 * Why one event-loop-driven loop: everything that happens in one turn of the event loop —
 * proposals, reads, received messages, ticks — is folded into one Ready cycle that runs once
 * per turn (setImmediate): persist (one fsync), send, apply, answer, advance. That is the
 * batching that makes one fsync serve many requests, and it keeps the core single-threaded.
 * With the WAL the fsync runs on the thread pool: while it is in flight the event loop keeps
 * serving (messages are stepped, proposals collected) and the next Ready carries all of it.
 * Membership changes (membership-*.ts), snapshots (snapshots.ts), reads (reads.ts), forwarding
 * (forwarder.ts), the peer set (peer-sync.ts), leadership transfer (leadership-transfer.ts), the
 * status (node-status.ts), metrics (node-metrics.ts), the storage retry (storage-calls.ts), events
 * (node-events.ts), the core's settings (core-config.ts) and the data directory (open.ts,
 * data-dir.ts) live in their own modules; this file keeps the Ready-loop ordering and takes
 * requests in (see README.md).
 */
import { performance } from 'node:perf_hooks';
import { GraftdError, NotLeaderError, ProposalDroppedError, StorageFailedError, assert } from '../errors.ts';
import { type Log, errFields } from '../log.ts';
import type { RaftCore } from '../raft/api.ts';
import type { ConfChange, Entry, Message, NodeId, RaftEvent, Ready, Role, SoftState } from '../raft/types.ts';
import type { ForwardResult, PeerSecurity, Transport } from '../transport/types.ts';
import type { JoinRequest, MemberView, NodeEvent, ReadLevel } from './api.ts';
import type { RuntimeConfig } from './config.ts';
import { coreConfig } from './core-config.ts';
import { clearJoiningMarker } from './data-dir.ts';
import { DiskFullGate } from './disk-fault.ts';
import { isMember } from './members.ts';
import { type MembershipHost, joinMember, removeMember } from './membership-changes.ts';
import { maybePromote } from './membership-promotion.ts';
import { RemovalWatch, recordRemoval } from './membership-removal.ts';
import { ReadBatcher } from './reads.ts';
import { ReadyWaits } from './ready-waits.ts';
import { SnapshotKeeper } from './snapshots.ts';
import { decodeForwardRequest, forwardReadIndex, forwardWrite, serveForwardedWrite } from './forwarder.ts';
import type { RuntimeParts } from './runtime-parts.ts';
import type { Leadership, RaftNode, RaftNodeStatus, ResultOf, StateMachine } from './state-machine.ts';
import { IndexWaits } from './index-waits.ts';
import { OpsStats } from './ops-stats.ts';
import { ForeignCluster } from './foreign-cluster.ts';
import { JoinGuard } from './join-guard.ts';
import { LeadershipTransfer } from './leadership-transfer.ts';
import { NodeEvents } from './node-events.ts';
import { NodeMetrics } from './node-metrics.ts';
import { buildStatus } from './node-status.ts';
import { PeerSync } from './peer-sync.ts';
import { StorageCalls } from './storage-calls.ts';
import { ApplyWaiters } from './waiters.ts';

/** Most requests (writes + membership changes) waiting for their entry at once; more get 503. */
const MAX_PENDING_WRITES = 65_536;
/** Most reads waiting at once. */
const MAX_PENDING_READS = 65_536;
/** Ready cycles per event-loop turn before yielding to I/O. */
const MAX_READY_ROUNDS_PER_TURN = 64;
/** A leader Ready with at most this many entries waits for the transport's flush before it starts its fsync (the WAL's saveAsync: fdatasync on the thread pool). */
const OVERLAP_MAX_ENTRIES = 4;

/** How long (in election timeouts) a removed member stays a transport peer so it can be told of its removal. */
const FAREWELL_ELECTION_TIMEOUTS = 3;

export type { RuntimeParts, TransportHandlers } from './runtime-parts.ts';

type State = 'created' | 'running' | 'failed' | 'removed' | 'closed';

interface PendingProposal {
  readonly data: Uint8Array;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: Error) => void;
}

/** A raft node running one state machine ({@link RaftNode}), plus lifecycle and metrics methods for graftd's command line. */
export class RaftRuntime<SM extends StateMachine<unknown>> implements RaftNode<SM> {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  readonly stateMachine: SM;
  readonly #p: RuntimeParts<SM>;
  readonly #log: Log;
  readonly #cfg: RuntimeConfig;
  readonly #core: RaftCore;
  readonly #transport: Transport;
  /** The raft port authenticates peers (secret or TLS): joins that no admin vouched for are probed first. */
  #peerSecured: boolean;
  readonly #snap: SnapshotKeeper;
  readonly #sm: SM;
  #applied: number;
  #state: State = 'created';
  #fault = '';
  #faultError: GraftdError | undefined;
  /** The save path's storage calls, retried while the storage is busy (`busy` is set meanwhile). */
  readonly #storage: StorageCalls;
  /** Refuses new writes while the storage is busy or its disk is full (507), and notices when space is back. */
  readonly #disk: DiskFullGate;
  /** Leader changes, failed proposals, the last role change's reason, vote logs, WAL fsync timings. */
  readonly #ops = new OpsStats();
  /** Counters and pass-throughs for /metrics (protocol violations, peer links, disk-full episodes, …). */
  readonly metrics: NodeMetrics;
  #role: Role;
  #leader: NodeId;
  #scheduled = false;
  #tickTimer: NodeJS.Timeout | undefined;
  #ticks = 0;
  #shuttingDown = false;
  #proposals: PendingProposal[] = [];
  readonly #waiters: ApplyWaiters;
  readonly #reads: ReadBatcher;
  /** Follower reads waiting for the local apply index to reach the leader's read index. */
  readonly #indexWaits: IndexWaits;
  readonly #transfer: LeadershipTransfer;
  /** whenReady() callers. */
  readonly #readyWaits = new ReadyWaits();
  readonly #events: NodeEvents;
  /** The applied members (cached) and the transport's peer set, farewell peers included. */
  readonly #peers: PeerSync;
  #removedNoticed = false;
  readonly #removal: RemovalWatch;
  /** The primitives membership-changes.ts builds join and remove on. */
  readonly #membership: MembershipHost;
  #removedResolve: () => void = () => {};
  readonly #removedPromise = new Promise<void>((resolve) => {
    this.#removedResolve = resolve;
  });
  readonly #run = (): void => this.#runReady();
  /** A Ready written but not yet durable: no other Ready is handled until it completes. */
  #pending: Ready | undefined;
  /** Term and vote as last persisted. */
  #savedTerm: number;
  #savedVote: NodeId;
  readonly #joinGuard: JoinGuard;
  readonly #foreign: ForeignCluster;
  /** performance.now() before which a freshly founded one-node cluster does not campaign (RuntimeParts.foundingQuietMs). */
  readonly #foundingQuietUntil: number;

  constructor(parts: RuntimeParts<SM>) {
    this.#p = parts;
    this.id = parts.id;
    this.clusterId = parts.clusterId;
    this.raftAddr = parts.raftAddr;
    this.httpAddr = parts.httpAddr;
    this.#log = parts.log;
    this.#cfg = parts.config;
    this.stateMachine = parts.stateMachine;
    this.#sm = parts.stateMachine;
    this.#applied = parts.applied;
    this.#events = new NodeEvents(parts.log);
    const initial = parts.storage.initialState().hardState;
    this.#savedTerm = initial.term;
    this.#savedVote = initial.vote;
    this.#disk = new DiskFullGate(parts.id, parts.storage, parts.storageRetry);
    this.#storage = new StorageCalls(parts.log, parts.storageRetry, () => this.#state === 'running');
    // Before the core: it reports protocol violations from its first message on.
    this.metrics = new NodeMetrics({
      log: parts.log,
      dataDir: parts.dataDir,
      transport: () => this.#transport,
      disk: this.#disk,
      ops: this.#ops,
      now: () => performance.now(),
    });
    this.#foreign = new ForeignCluster({ dataDir: parts.dataDir, id: parts.id, clusterId: parts.clusterId, log: parts.log });
    this.#foundingQuietUntil = performance.now() + (parts.foundingQuietMs ?? 0);
    this.#joinGuard = new JoinGuard(parts.joining === true, () => {
      if (parts.dataDir !== '') clearJoiningMarker(parts.dataDir);
      this.#log.info({ applied: this.#applied }, 'caught up with the leader after joining; this node may campaign from now on');
    });
    this.#core = parts.createRaft(
      coreConfig({
        id: parts.id,
        config: parts.config,
        random: parts.random,
        applied: parts.applied,
        onEvent: (e: RaftEvent) => {
          if (e.kind === 'violation') this.metrics.violation(e);
          else if (e.kind === 'role') this.#ops.roleReason = e.reason;
          else if (e.kind === 'vote') this.#ops.logVote(this.#log, this.id, e);
          this.#events.emit(e);
        },
      }),
      parts.storage,
    );
    parts.storage.setSyncObserver?.((ms) => this.#ops.walSynced(ms));
    const st = this.#core.status();
    this.#role = st.role;
    this.#leader = st.leader;
    this.#waiters = new ApplyWaiters({ max: MAX_PENDING_WRITES, timeoutMs: parts.config.requestTimeoutMs, what: 'the write' });
    this.#reads = new ReadBatcher({ max: MAX_PENDING_READS, timeoutMs: parts.config.requestTimeoutMs, ctxPrefix: `${parts.id}:` });
    this.#indexWaits = new IndexWaits({ max: MAX_PENDING_READS, timeoutMs: parts.config.requestTimeoutMs });
    this.#snap = new SnapshotKeeper({
      id: parts.id,
      log: parts.log,
      storage: parts.storage,
      store: parts.snapshots,
      threshold: parts.config.snapshotThreshold,
      trailingLogs: parts.config.trailingLogs,
      intervalMs: parts.config.snapshotIntervalMs,
      lastIndex: parts.storage.snapshotMeta().index,
      current: () => ({
        applied: this.#applied,
        stateMachine: this.#sm,
        confState: this.#core.confState(),
        active: this.#state === 'running',
      }),
      emit: (action, index, peer) => this.#events.emit({ kind: 'snapshot', action, index, ...(peer === undefined ? {} : { peer }) }),
    });
    this.#peerSecured = parts.peerSecured === true;
    this.#transport = parts.createTransport({
      onMessage: (m) => this.#onMessage(m),
      onSnapshot: (m, data) => this.#onSnapshot(m, data),
      onForward: async (_from, data) => {
        const req = decodeForwardRequest(data);
        if ('read' in req) return this.#serveReadIndex(req.read);
        const codec = this.#sm.results;
        return serveForwardedWrite(
          req.command,
          async (c) => {
            const r = await this.#proposeCommand(c);
            return codec === undefined ? undefined : codec.encode(r);
          },
          this.#sm.validate === undefined ? undefined : (c) => this.#sm.validate?.(c),
        );
      },
      // Without a live leader this node may be behind a membership change: hear the new members.
      admitUnknownPeers: () => this.#state === 'running' && this.#core.admitsStrangers(),
      onForeignCluster: (claim) => this.#onForeignCluster(claim),
      onUnreachable: (id) => {
        if (this.#state !== 'running') return;
        this.#core.reportUnreachable(id);
        this.#schedule();
      },
    });
    this.#peers = new PeerSync({
      id: parts.id,
      transport: this.#transport,
      seedPeers: parts.seedPeers ?? [],
      farewellTtlMs: FAREWELL_ELECTION_TIMEOUTS * parts.config.electionTimeoutMs,
    });
    this.#peers.membersFor(this.#core.confState());
    this.#transfer = new LeadershipTransfer({
      id: parts.id,
      log: parts.log,
      core: this.#core,
      config: parts.config,
      checkLeader: () => this.#checkLeader(),
      schedule: () => this.#schedule(),
      now: () => performance.now(),
    });
    this.#removal = new RemovalWatch({
      electionTimeoutMs: parts.config.electionTimeoutMs,
      log: parts.log,
      isMemberNow: isMember(this.#core.confState(), this.id),
    });
    this.#membership = {
      id: this.id,
      log: this.#log,
      confState: () => this.#core.confState(),
      checkWritable: () => this.#checkWritable(),
      checkLeader: () => this.#checkLeader(),
      proposeConf: (change) => this.#proposeConf(change),
      transferAway: () => this.#transfer.transfer(undefined, this.#transfer.timeoutMs()),
      peerSecured: () => this.#peerSecured,
      probe: this.#transport.probe === undefined ? undefined : (id, addr) => this.#transport.probe!(id, addr),
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Listen for peers, start the clock and the snapshot timer. Rejects (GRAFTD_BAD_CONFIG) when the raft address cannot be bound. */
  async start(): Promise<void> {
    assert(this.#state === 'created', `start() called in state ${this.#state}`);
    await this.#transport.start();
    this.#state = 'running';
    this.#syncPeers();
    this.#tickTimer = setInterval(() => this.#onTick(), this.#cfg.heartbeatTimeoutMs);
    this.#snap.start();
    this.#log.info(
      {
        clusterId: this.clusterId,
        raftAddr: this.raftAddr,
        httpAddr: this.httpAddr,
        applied: this.#applied,
        members: this.#peers.members.length,
      },
      'node started',
    );
    this.#schedule();
  }

  /**
   * Members to talk to while this node has no applied configuration (a node that restarts after a
   * join that never completed learns the cluster's addresses again this way). Ignored once it has one.
   */
  setSeedPeers(members: readonly MemberView[]): void {
    this.#peers.setSeeds(members);
    this.#syncPeers();
  }

  /** Resolves once this node has applied its own removal (the command line then exits 1). */
  whenRemoved(): Promise<void> {
    return this.#removedPromise;
  }

  /** True once the node applied its own removal from the cluster. */
  get removed(): boolean {
    return this.#state === 'removed';
  }

  /**
   * Prepare for a clean exit: report not ready (load balancers drain) and, on the leader, hand
   * leadership to the most caught-up voter (bounded by SHUTDOWN_TRANSFER_TIMEOUT) so the cluster
   * needs no election. Requests are still served (as a follower, forwarded) until close().
   */
  async prepareShutdown(): Promise<void> {
    this.#shuttingDown = true;
    if (this.#state !== 'running') return;
    if (this.#role === 'leader') await this.#transfer.beforeShutdown();
  }

  /** Stop the clock, answer waiting requests with GRAFTD_SHUTTING_DOWN, close the transport and the storage. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasFailed = this.#state === 'failed';
    this.#state = 'closed';
    this.#shuttingDown = true;
    this.#stopTimers();
    const err = new GraftdError('GRAFTD_SHUTTING_DOWN', `node ${this.id} is shutting down`);
    this.#failRequests(err);
    await this.#transport.close().catch((e: unknown) => this.#log.warn(errFields(e), 'closing the transport failed'));
    await this.#snap.close();
    try {
      await this.#p.snapshots.close?.();
      if (!wasFailed || !this.#p.storage.failed()) await this.#p.storage.close();
    } catch (e) {
      this.#log.warn(errFields(e), 'closing the storage failed');
    }
    this.#log.info({ applied: this.#applied }, 'node stopped');
  }

  // ---------------------------------------------------------------- RaftNode

  /** Replicate `command` (see RaftNode.propose): proposed here on the leader, forwarded to it over the transport (forwarder.ts) elsewhere. */
  async propose(command: Uint8Array): Promise<ResultOf<SM>> {
    this.#foreign.check();
    if (command.length === 0)
      throw new GraftdError('GRAFTD_INVALID_BODY', 'an empty command cannot be proposed (empty entries are no-ops)');
    if (this.#role === 'leader' || this.#state !== 'running') return this.#proposeCommand(command) as Promise<ResultOf<SM>>;
    const st = this.#core.status();
    if (st.role === 'leader') return this.#proposeCommand(command) as Promise<ResultOf<SM>>;
    const result = await forwardWrite(this.#transport, this.id, st.leader, command);
    const codec = this.#sm.results;
    return (codec === undefined || result === undefined ? undefined : codec.decode(result)) as ResultOf<SM>;
  }

  /** The node's settings. */
  get config(): RuntimeConfig {
    return this.#cfg;
  }

  /** The node's logger (for policies layered on top, like graftd's lessor). */
  get log(): Log {
    return this.#log;
  }

  /** Run `fn` against the state machine once a read at `level` is safe (see RaftNode.read). */
  async read<T>(level: ReadLevel, fn: (stateMachine: SM) => T): Promise<T> {
    this.#foreign.check();
    if (level === 'stale' || this.#cfg.testFault === 'stale-linearizable-reads') return fn(this.#sm);
    this.#checkUsable();
    const mode = level === 'lease' ? 'lease' : 'safe';
    const st = this.#core.status();
    if (this.#role !== 'leader' && st.role !== 'leader') {
      // A follower read (forwarder.ts): the leader's read index, then our own state once applied.
      const index = await forwardReadIndex(this.#transport, this.id, st.leader, mode);
      this.#checkUsable();
      await this.#indexWaits.wait(index, this.#applied, performance.now());
      return fn(this.#sm);
    }
    const p = this.#reads.add(mode, () => fn(this.#sm));
    this.#schedule();
    return p;
  }

  /** A linearizable read served on the leader only (NotLeaderError elsewhere): graftd's backup. */
  async readOnLeader<T>(fn: (stateMachine: SM) => T): Promise<T> {
    this.#checkUsable();
    this.#checkLeader();
    const p = this.#reads.add('safe', () => fn(this.#sm));
    this.#schedule();
    return p;
  }

  join(request: JoinRequest): Promise<void> {
    return joinMember(this.#membership, request);
  }

  /** Leader side of a follower read: confirm leadership for `mode`, answer with an index the follower must apply first. */
  async #serveReadIndex(mode: 'safe' | 'lease'): Promise<ForwardResult> {
    this.#checkUsable();
    this.#checkLeader();
    // Served once our own apply index reached the read index: answering `applied` (≥ that index) is just as safe.
    const p = this.#reads.add(mode, () => this.#applied);
    this.#schedule();
    return { ok: true, index: await p };
  }

  /** Replace the raft port's secret/certificates for new connections (SIGHUP). Throws GRAFTD_BAD_CONFIG, keeping the old ones. */
  updatePeerSecurity(security: PeerSecurity): void {
    this.#transport.updateSecurity?.(security);
    this.#peerSecured = security.secret !== undefined || security.tls !== undefined;
  }

  remove(id: NodeId): Promise<void> {
    return removeMember(this.#membership, id);
  }

  async transferLeader(id?: NodeId): Promise<NodeId> {
    this.#checkUsable();
    this.#checkLeader();
    return this.#transfer.transfer(id, this.#transfer.timeoutMs());
  }

  leadership(): Leadership {
    return { isLeader: this.#role === 'leader' && this.#state !== 'removed', leaderId: this.#leader };
  }

  status(): RaftNodeStatus {
    const st = this.#core.status();
    const foreign = this.#foreign.record;
    return buildStatus({
      id: this.id,
      clusterId: this.clusterId,
      raftAddr: this.raftAddr,
      httpAddr: this.httpAddr,
      core: st,
      members: this.#peers.membersFor(st.confState),
      removed: this.#state === 'removed',
      applied: this.#applied,
      snapshotIndex: this.#snap.lastIndex,
      fault: this.#fault,
      diskFull: this.#disk.describe(this.#storage.busy),
      state: this.#sm.describe?.() ?? {},
      ...(foreign === undefined ? {} : { foreign: { record: foreign, error: this.#foreign.error()?.message ?? '' } }),
    });
  }

  /** Another cluster's node addressed us as a member: stop serving if we are a one-node cluster founded by mistake (foreign-cluster.ts). */
  #onForeignCluster(claim: { readonly clusterId: string; readonly from: NodeId }): void {
    if (this.#state !== 'running') return;
    if (!this.#foreign.claim(claim, this.#core.confState(), this.#core.status().commit, performance.now())) return;
    const err = this.#foreign.error() as GraftdError;
    for (const p of this.#proposals) p.reject(err);
    this.#proposals = [];
    this.#waiters.failAll(err);
    this.#reads.failAll(err);
  }

  isReady(): boolean {
    if (this.#state !== 'running' || this.#shuttingDown || this.#foreign.record !== undefined) return false;
    const st = this.#core.status();
    return st.leader !== '' && this.#applied >= st.commit;
  }

  /** Resolves once isReady() holds (see RaftNode.whenReady); rejects after `timeoutMs` when given, or when the node stops. */
  whenReady(timeoutMs?: number): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    if (this.#state !== 'created' && this.#state !== 'running') {
      try {
        this.#checkUsable();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.#readyWaits.add(timeoutMs, () => {
      const st = this.#core.status();
      return `state ${this.#state}, leader ${st.leader === '' ? 'unknown' : st.leader}, applied ${this.#applied} of commit ${st.commit}`;
    });
  }

  /** After a Ready cycle or a tick: answer whenReady() callers once the node is ready. */
  #checkReady(): void {
    if (this.#readyWaits.size !== 0 && this.isReady()) this.#readyWaits.resolveAll();
  }

  onEvent(listener: (event: NodeEvent) => void): () => void {
    return this.#events.add(listener);
  }

  // ---------------------------------------------------------------- requests

  #checkUsable(): void {
    if (this.#faultError !== undefined) throw this.#faultError;
    this.#foreign.check();
    if (this.#state === 'removed') throw new GraftdError('GRAFTD_REMOVED', `node ${this.id} was removed from the cluster`);
    // While shutting down (leadership already handed over) the node still serves until HTTP closes.
    if (this.#state !== 'running') throw new GraftdError('GRAFTD_SHUTTING_DOWN', `node ${this.id} is not running (${this.#state})`);
  }

  #checkWritable(): void {
    this.#checkUsable();
    // Writes already waiting complete once the retried save succeeds (or time out, 504); new ones are turned away.
    const refusal = this.#disk.refusal(this.#storage.busy, performance.now());
    if (refusal !== undefined) throw refusal;
  }

  #checkLeader(): void {
    if (this.#role === 'leader') return;
    // The core may have changed role since the last Ready was handled (status() reads it directly).
    const st = this.#core.status();
    if (st.role !== 'leader') throw new NotLeaderError(st.leader === this.id ? '' : st.leader);
  }

  async #proposeCommand(data: Uint8Array): Promise<unknown> {
    this.#checkWritable();
    this.#checkLeader();
    if (!this.#waiters.hasRoom(this.#proposals.length + 1)) {
      this.#ops.proposalFailed();
      throw new ProposalDroppedError(`too many writes waiting (${MAX_PENDING_WRITES})`);
    }
    const p = new Promise<unknown>((resolve, reject) => this.#proposals.push({ data, resolve, reject }));
    this.#schedule();
    return this.#ops.track(p);
  }

  /** Propose every command collected this turn as one batch (one append, one fsync). */
  #flushProposals(): void {
    const batch = this.#proposals;
    if (batch.length === 0) return;
    this.#proposals = [];
    let r: { index: number; term: number };
    try {
      r = this.#core.propose(batch.map((b) => b.data));
    } catch (err) {
      for (const b of batch) b.reject(err as Error);
      return;
    }
    const now = performance.now();
    batch.forEach((b, i) => {
      this.#waiters.add(r.index + i, r.term, now).then(b.resolve, b.reject);
    });
  }

  async #proposeConf(change: ConfChange): Promise<void> {
    this.#checkWritable();
    this.#checkLeader();
    if (!this.#waiters.hasRoom(1)) {
      this.#ops.proposalFailed();
      throw new ProposalDroppedError(`too many writes waiting (${MAX_PENDING_WRITES})`);
    }
    const r = this.#core.proposeConfChange(change);
    this.#schedule();
    await this.#ops.track(this.#waiters.add(r.index, r.term, performance.now()));
  }

  // ---------------------------------------------------------------- inputs

  #onMessage(m: Message): void {
    if (this.#state !== 'running') return;
    this.#joinGuard.observe(m);
    try {
      this.#core.step(m);
    } catch (err) {
      // A broken invariant leaves the core in an unknown state: stop rather than act on it.
      if (err instanceof GraftdError && err.code === 'GRAFTD_INTERNAL') {
        this.#fail(err);
        return;
      }
      this.#log.warn({ err: (err as Error).message, type: m.type, from: m.from }, 'core refused a message');
    }
    this.#schedule();
  }

  async #onSnapshot(m: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.#state !== 'running') throw new GraftdError('GRAFTD_SHUTTING_DOWN', `node ${this.id} is not running`);
    const meta = m.snapshot;
    if (meta === null) throw new GraftdError('GRAFTD_INTERNAL', `snap message from ${m.from} without metadata`);
    if (!this.#core.admits(m)) {
      // Not from the leader this node would follow (a stranger, a second leader, a bad or stale term):
      // its bytes never reach the snapshot store (a restart could restore them). The core counts it.
      this.#onMessage(m);
      throw new GraftdError('GRAFTD_FORBIDDEN', `snapshot from ${m.from} at term ${m.term} refused: not from this node's leader`);
    }
    if (meta.index > this.#applied) {
      await this.#snap.receive(meta, data);
      if (this.#state !== 'running') throw new GraftdError('GRAFTD_SHUTTING_DOWN', `node ${this.id} is not running`);
    }
    this.#onMessage(m);
  }

  #onTick(): void {
    if (this.#state !== 'running') return;
    const failure = this.#p.storage.failed();
    if (failure) {
      this.#fail(failure);
      return;
    }
    this.#ticks++;
    const now = performance.now();
    // A node that joined empty keeps its election timer still until it has caught up (join-guard.ts);
    // a node that just founded a one-node cluster until another cluster had the time to claim it.
    const quiet = now < this.#foundingQuietUntil && this.#role !== 'leader';
    if (!quiet && this.#foreign.record === undefined && this.#joinGuard.mayTick(this.#applied, this.#role === 'leader')) this.#core.tick();
    this.#waiters.expire(now);
    this.#reads.expire(now);
    this.#indexWaits.expire(now);
    this.#transfer.tick(now, this.#role === 'leader');
    if (this.#peers.sendFarewells(now, this.#core.status().term, this.#role === 'leader')) this.#syncPeers();
    if (this.#removal.pending) this.#checkRemoved(now);
    if (this.#role === 'leader' && this.#ticks % 2 === 0) maybePromote(this.#core, this.#log);
    this.#checkReady();
    this.#schedule();
  }

  // ---------------------------------------------------------------- the Ready loop

  #schedule(): void {
    if (this.#scheduled || this.#state !== 'running') return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  #runReady(): void {
    this.#scheduled = false;
    // A Ready waiting for its fsync: #finishPending() resumes the loop.
    if (this.#state !== 'running' || this.#pending !== undefined) return;
    try {
      if (this.#proposals.length > 0) this.#flushProposals();
      if (this.#reads.hasCollected()) {
        this.#reads.flush(performance.now(), (ctx, mode) => this.#core.readIndex(ctx, mode));
      }
      let rounds = 0;
      while (this.#state === 'running' && this.#core.hasReady() && rounds < MAX_READY_ROUNDS_PER_TURN) {
        if (this.#handleReady(this.#core.ready()) === 'pending') return;
        rounds++;
      }
      if (this.#core.hasReady()) this.#schedule();
    } catch (err) {
      this.#fail(err);
    }
  }

  /**
   * Persist, send, apply, advance. Persisting writes at once and, when something must reach the
   * disk, waits for the fsync off the event loop ('pending'; #finishPending() completes the Ready).
   * Messages leave only once what they depend on is durable, except on the leader: a Ready that
   * appends entries sends first, so the followers' disk writes overlap the leader's (the core counts
   * the leader's own entries only at advance(), i.e. once they are durable). A leader's messages
   * never depend on unpersisted term or vote: those change only by leaving the leader role.
   */
  #handleReady(rd: Ready): 'done' | 'pending' {
    if (rd.softState !== null) this.#onSoftState(rd.softState);
    const snap = rd.snapshot;
    if (snap !== null) {
      // A transiently busy storage changed nothing: this Ready waits (no other is handled) and resumes once the install succeeds.
      const installing = this.#storage.call(() => {
        this.#p.storage.applySnapshot(snap);
        return null;
      });
      if (installing !== null) {
        this.#pending = rd;
        installing.then(
          () => {
            this.#pending = undefined;
            if (this.#state !== 'running') return;
            try {
              if (this.#persistReady(rd) === 'pending') return;
            } catch (err) {
              this.#fail(err);
              return;
            }
            this.#runReady();
          },
          (err: unknown) => {
            this.#pending = undefined;
            this.#fail(err);
          },
        );
        return 'pending';
      }
    }
    return this.#persistReady(rd);
  }

  /** The rest of {@link #handleReady} once the Ready's snapshot (if any) is in the storage. */
  #persistReady(rd: Ready): 'done' | 'pending' {
    // Only when term and vote are already durable (a Ready that also changes them is handled in order).
    const termVoteDurable = rd.hardState === null || (rd.hardState.term === this.#savedTerm && rd.hardState.vote === this.#savedVote);
    const sendFirst = this.#role === 'leader' && rd.snapshot === null && rd.entries.length > 0 && termVoteDurable;
    let snapshotInstalled = false;
    // 1. Persist (install a received snapshot first, then hard state and entries: one fsync).
    if (rd.snapshot !== null) {
      this.#snap.takeReceived(rd.snapshot.index).install();
      this.#applied = rd.snapshot.index;
      this.#waiters.unknownUpTo(rd.snapshot.index);
      snapshotInstalled = true;
      this.#events.emit({ kind: 'snapshot', action: 'installed', index: rd.snapshot.index });
      this.#log.info({ index: rd.snapshot.index, term: rd.snapshot.term, ...this.#sm.describe?.() }, 'installed snapshot from the leader');
    }
    if (sendFirst && rd.messages.length > 0) this.#send(rd.messages);
    const durable = rd.hardState !== null || rd.entries.length > 0 ? this.#persist(rd, sendFirst) : null;
    if (durable !== null) {
      this.#pending = rd;
      durable.then(
        () => this.#finishPending(rd, sendFirst, snapshotInstalled),
        (err: unknown) => {
          this.#pending = undefined;
          this.#fail(err);
        },
      );
      return 'pending';
    }
    this.#afterDurable(rd, sendFirst, snapshotInstalled);
    return 'done';
  }

  /**
   * Write a Ready's hard state and entries. Returns a promise when the caller must wait for the
   * disk (null when they are durable already, or nothing needed syncing).
   */
  #persist(rd: Ready, sendFirst: boolean): Promise<void> | null {
    const storage = this.#p.storage;
    const save = (): Promise<void> | null =>
      this.#storage.call(() => {
        if (storage.saveAsync !== undefined) return storage.saveAsync(rd.hardState, rd.entries);
        storage.save(rd.hardState, rd.entries);
        return null;
      });
    if (!sendFirst || (storage.saveAsync !== undefined && rd.entries.length > OVERLAP_MAX_ENTRIES)) return save();
    // After the transport has flushed the messages (its flush is queued with setImmediate too, so it
    // runs first): the followers' writes overlap ours, and the messages are on the wire before the
    // WAL's saveAsync hands its fdatasync to the thread pool (a store with only save() blocks the
    // event loop for the sync, so there the wait matters even more). A large batch
    // (many writers) persists at once instead: the later followers' acks gather more writes into the
    // next batch, which costs less CPU per write on a busy machine.
    return new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        try {
          const p = save();
          if (p === null) resolve();
          else p.then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** The fsync of the pending Ready finished: complete it, then continue the loop. */
  #finishPending(rd: Ready, sentFirst: boolean, snapshotInstalled: boolean): void {
    this.#pending = undefined;
    if (this.#state !== 'running') return;
    try {
      this.#afterDurable(rd, sentFirst, snapshotInstalled);
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#runReady();
  }

  /** A Ready's state is durable: remember term and vote, send (unless sent already), apply, advance. */
  #afterDurable(rd: Ready, sentFirst: boolean, snapshotInstalled: boolean): void {
    if (rd.hardState !== null) {
      this.#savedTerm = rd.hardState.term;
      this.#savedVote = rd.hardState.vote;
    }
    // 2. Send.
    if (!sentFirst && rd.messages.length > 0) this.#send(rd.messages);
    this.#completeReady(rd, snapshotInstalled);
  }

  /** Apply committed entries, serve reads, advance. */
  #completeReady(rd: Ready, snapshotInstalled: boolean): void {
    let membershipMayChange = snapshotInstalled;
    // 3. Apply and answer.
    if (rd.committedEntries.length > 0) membershipMayChange = this.#apply(rd.committedEntries) || membershipMayChange;
    for (const rs of rd.readStates) this.#reads.readState(rs.ctx, rs.index, this.#applied);
    // 4. Advance (conf changes take effect here).
    this.#core.advance(rd);
    this.#reads.appliedTo(this.#applied);
    this.#indexWaits.appliedTo(this.#applied);
    if (membershipMayChange) this.#afterMembershipChange();
    this.#checkReady();
  }

  #send(messages: readonly Message[]): void {
    let plain: Message[] | undefined;
    for (const m of messages) {
      if (m.type !== 'snap') continue;
      plain ??= messages.filter((x) => x.type !== 'snap');
      this.#sendSnapshot(m);
    }
    this.#transport.send(plain ?? messages);
  }

  #sendSnapshot(m: Message): void {
    const meta = m.snapshot;
    if (meta === null) return;
    this.#log.info({ to: m.to, index: meta.index }, 'sending snapshot');
    this.#transport.sendSnapshot(
      m,
      () => this.#p.snapshots.read(meta.index),
      (ok) => {
        this.#log.info({ to: m.to, index: meta.index, ok }, 'snapshot send finished');
        if (ok) this.#events.emit({ kind: 'snapshot', action: 'sent', index: meta.index, peer: m.to });
        if (this.#state !== 'running') return;
        this.#core.reportSnapshot(m.to, ok);
        this.#schedule();
      },
    );
  }

  /** Apply committed entries; returns true when a membership entry was among them. */
  #apply(entries: readonly Entry[]): boolean {
    let conf = false;
    for (const e of entries) {
      if (e.index <= this.#applied) continue;
      let error: Error | undefined;
      let result: unknown;
      if (e.type === 'normal') {
        try {
          // Empty entries are the leaders' no-ops (propose() refuses empty commands).
          if (e.data.length > 0) result = this.#sm.apply(e.data, e.index);
        } catch (err) {
          // Deterministic on every node: the command is skipped everywhere; its client hears why.
          error = err as Error;
          this.#log.error({ index: e.index, err: error.message }, 'a committed command could not be applied; skipped');
        }
      } else {
        conf = true;
        if (this.#role === 'leader') this.#peers.noteConfEntry(e, performance.now());
      }
      this.#applied = e.index;
      this.#waiters.applied(e.index, e.term, error, result);
    }
    const last = entries[entries.length - 1];
    if (last !== undefined && this.#events.size !== 0) this.#events.emit({ kind: 'apply', index: last.index, count: entries.length });
    return conf;
  }

  #onSoftState(ss: SoftState): void {
    const wasLeader = this.#role === 'leader';
    if (ss.role !== this.#role || ss.leader !== this.#leader) {
      const { msg, reason } = this.#ops.describeChange(this.#role, ss.role, ss.leader);
      this.#log.info({ role: ss.role, previous: this.#role, leader: ss.leader, term: ss.term, reason }, msg);
      this.#ops.leaderIs(ss.leader);
    }
    this.#ops.roleReason = ''; // a term change alone is not logged; its reason must not label a later change
    this.#role = ss.role;
    this.#leader = ss.leader;
    if (wasLeader && ss.role !== 'leader') {
      const err = new NotLeaderError(ss.leader);
      this.#reads.abandonInFlight(err);
      for (const p of this.#proposals) p.reject(err);
      this.#proposals = [];
    }
    if (ss.role !== 'leader' && ss.leader !== '' && ss.leader !== this.id) this.#transfer.moved(ss.leader);
  }

  #afterMembershipChange(): void {
    this.#peers.membersFor(this.#core.confState());
    this.#syncPeers();
    this.#checkRemoved(performance.now());
  }

  /** Declare this node removed once it stayed out of the applied configuration for the grace period (membership-removal.ts). */
  #checkRemoved(now: number): void {
    const removed = this.#removal.check(now, {
      isMember: isMember(this.#core.confState(), this.id),
      applied: this.#applied,
      commit: this.#core.status().commit,
    });
    if (removed) this.#onRemoved();
  }

  #onRemoved(): void {
    if (this.#removedNoticed) return;
    this.#removedNoticed = true;
    this.#state = 'removed';
    this.#stopTimers();
    recordRemoval(this.#p.dataDir, this.id, this.#applied, this.#log);
    this.#failRequests(new GraftdError('GRAFTD_REMOVED', `node ${this.id} was removed from the cluster`));
    this.#removedResolve();
  }

  /** Storage failed (or an invariant broke): never act on unpersisted state again. */
  #fail(err: unknown): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    const e = err instanceof GraftdError ? err : new StorageFailedError('the raft loop', err);
    this.#state = 'failed';
    this.#fault = e.message;
    this.#faultError =
      e.code === 'GRAFTD_STORAGE_FAILED' ? e : new GraftdError('GRAFTD_STORAGE_FAILED', `node failed: ${e.message}`, { cause: e });
    this.#stopTimers();
    // The system error under the wrapper (EIO, ENOSPC, …) stays visible as causeCode/errno.
    const { code: causeCode, ...detail } = errFields(e);
    this.#log.fatal(
      { ...detail, code: e.code, ...(causeCode === e.code ? {} : { causeCode }) },
      'raft loop stopped: this node no longer accepts writes',
    );
    this.#failRequests(this.#faultError);
  }

  /**
   * Answer everything waiting with `err`, except writes already handed to the core: those may
   * still be (or already be) committed by the cluster, so their outcome is unknown (504).
   */
  #failRequests(err: GraftdError): void {
    for (const p of this.#proposals) p.reject(err);
    this.#proposals = [];
    this.#waiters.failAll(
      new GraftdError('GRAFTD_TIMEOUT', `${err.message}; the outcome of this request is unknown (it may still be applied by the cluster)`, {
        cause: err,
      }),
    );
    this.#reads.failAll(err);
    this.#indexWaits.failAll(err);
    this.#transfer.failAll(err);
    this.#readyWaits.failAll(err);
  }

  #stopTimers(): void {
    if (this.#tickTimer !== undefined) clearInterval(this.#tickTimer);
    this.#tickTimer = undefined;
    this.#snap.stop();
  }

  /** Keep the transport's peers equal to the applied membership, the seeds before any, and farewell peers (peer-sync.ts). */
  #syncPeers(): void {
    if (this.#state === 'running') this.#peers.sync();
  }
}
