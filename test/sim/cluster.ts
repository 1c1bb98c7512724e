/**
 * The simulated cluster: N cores, their storages and state machines, driven exactly as the
 * runtime drives a core (persist, send, apply, serve reads, advance), with crash and restart.
 *
 * Why this shape: every safety property of Raft depends on the order in which the runtime
 * persists, sends and applies. The driver does that order faithfully, and a crash can strike
 * between any two of those stages, so whatever was not yet handed to `storage.save` is lost.
 * Snapshot bytes never travel inside messages ('snap' carries meta only): the simulator keeps
 * the state machine hash of every snapshot index and installs it at the receiver out of band.
 * Each node has its own clock and tick timer (time.ts); a stalled node handles nothing, and what
 * reaches it meanwhile waits in its inbox until it resumes.
 */
import { GraftdError } from '../../src/errors.ts';
import type { CreateRaft, RaftConfig, RaftCore, RaftTestFaults } from '../../src/raft/api.ts';
import { bootstrap } from '../../src/raft/index.ts';
import type { ConfChange, ConfState, Entry, Message, NodeId, RaftEvent, Ready, Role, Storage } from '../../src/raft/types.ts';
import { type Checker, ViolationError } from './checker.ts';
import { LogTracker } from './log-tracker.ts';
import type { SimNetwork } from './network.ts';
import type { Profile } from './profile.ts';
import type { Prng } from './prng.ts';
import { NodeTime, drawRates } from './time.ts';
import type { TraceRing } from './trace.ts';

/** Creates the (empty) storage of node `id`. */
export type StorageFactory = (id: NodeId) => Storage;
/** Called on restart with the storage that survived the crash; may return a reopened one (e.g. a WAL recovered from disk). */
export type StorageReopener = (id: NodeId, survivor: Storage) => Storage;

/** How the cluster is formed: all founders at once, or one founder that the others join. */
export type BootstrapMode = 'founders' | 'single';

/** Where a crash strikes within the processing of a Ready. */
export type CrashPoint = 'now' | 'afterSave' | 'afterSend';

/** Ticks per election timeout (the heartbeat interval is in the profile), and virtual ms per tick. */
export const ELECTION_TICKS = 10;
export const TICK_MS = 10;
/** Bound on transport failure reports queued between two steps. */
const MAX_DEFERRED = 1000;
/** Bound on Ready batches handled per node per virtual ms (each must make progress). */
const MAX_READY_PER_STEP = 16;
/** Bound on events (messages, client requests, transport reports) queued for a stalled node; beyond it messages are lost. */
export const MAX_INBOX = 20_000;
/** Lease reads a client sends to a stalled leader just before it resumes (at most). */
const MAX_RESUME_READS = 2;

/** Errors a client may legitimately get back from the core. */
const EXPECTED_CODES = new Set([
  'GRAFTD_NOT_LEADER',
  'GRAFTD_PROPOSAL_DROPPED',
  'GRAFTD_CONF_CHANGE_IN_PROGRESS',
  'GRAFTD_INVALID_CONF_CHANGE',
  'GRAFTD_TRANSFER_IN_PROGRESS',
]);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One simulated server: a core (null while crashed) over a storage that survives crashes. */
export class SimNode {
  core: RaftCore | null = null;
  /** Bumped on every crash; stale callbacks compare it. */
  incarnation = 0;
  role: Role = 'follower';
  term = 0;
  leader: NodeId = '';
  /** The durable log as the checker sees it (replaced when the node is wiped). */
  log = new LogTracker();
  /** State machine: last applied index and the hash of everything applied. */
  applied = 0;
  appHash = 0;
  /** Highest commit index persisted by this node (never decreases, across restarts too; see volatileCommit). */
  commitFloor = 0;
  /** With volatileCommit: the commit index the storage made durable (it rode with entries or a term/vote change). */
  syncedCommit = 0;
  persistedTerm = 0;
  persistedVote: NodeId = '';
  /** Term whose leader's log to check for leader completeness once its election-time log is persisted (-1: none). */
  leaderCheckTerm = -1;
  /** True once a Ready was processed while this incarnation led in its current term (commit-rule check). */
  steadyLeader = false;
  /** A crash scheduled inside the next Ready processing. */
  crashPoint: CrashPoint | null = null;
  /** Virtual time at which a crashed node restarts. */
  restartAtMs = 0;
  /** Virtual time at which a live node is due to crash (-1: none scheduled). */
  crashAtMs = -1;
  /** What reached this node while it was stalled, per source (a peer id, 'client', 'transport'), each in arrival order. */
  inbox = new Map<string, (() => void)[]>();
  inboxSize = 0;

  constructor(
    readonly id: NodeId,
    public storage: Storage,
    /** The node's clock and tick timer (the first tick within one interval, so nodes do not tick in lockstep). */
    readonly time: NodeTime,
  ) {}

  get alive(): boolean {
    return this.core !== null;
  }

  /** Alive and not stopped. */
  get running(): boolean {
    return this.core !== null && this.time.stalledUntil < 0;
  }
}

/** Counters for the run report. */
export interface ClusterStats {
  crashes: number;
  restarts: number;
  proposals: number;
  reads: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  confChangesApplied: number;
  transfers: number;
  /** Removed nodes replaced by empty ones before rejoining. */
  wipes: number;
  /** Messages a core dropped because their sender was not in its configuration (legitimate: e.g. a removed node's answers). */
  nonMemberDrops: number;
  /** Process stalls, those that stopped a leader, and ticks that fired late (held back by a loaded event loop). */
  stalls: number;
  leaderStalls: number;
  lateTicks: number;
  /** Lease reads sent to a stalled leader just before it resumed, how many were answered, and how many of those at once (from the lease, no round trip). */
  resumeReads: number;
  resumeReadsServed: number;
  resumeReadsFromLease: number;
  /** Events lost because a stalled node's inbox was full. */
  inboxDrops: number;
}

export interface ClusterOptions {
  readonly ids: readonly NodeId[];
  readonly coreRng: Prng;
  readonly rng: Prng;
  /** Clock rates, late timers and the order in which a resumed node handles what it missed. Default: forked from `rng`. */
  readonly timeRng?: Prng;
  readonly net: SimNetwork;
  readonly checker: Checker;
  readonly trace: TraceRing;
  readonly profile: Profile;
  readonly createRaft: CreateRaft;
  readonly storageFactory: StorageFactory;
  readonly reopenStorage: StorageReopener | null;
  readonly testFaults: RaftTestFaults | null;
  /** Check the Figure 8 commit rule directly (off: only its consequences are caught). */
  readonly checkCommitRule: boolean;
  /**
   * The storage may lose a commit index that only a commit-only save carried (raft's MustSync; e.g.
   * WalStorage under a power cut): a restart may then recover a lower commit, but never one below
   * the commit saved with the last batch of entries or term/vote change.
   */
  readonly volatileCommit?: boolean;
}

/** The cluster and its driver. Every method may throw ViolationError. */
export class SimCluster {
  readonly nodes: SimNode[] = [];
  readonly byId = new Map<NodeId, SimNode>();
  now = 0;
  /** A violation detected inside a core callback, rethrown by the driver. */
  pending: ViolationError | null = null;
  /** Application state hash at every snapshot index ever taken (index → hash): the out-of-band snapshot bytes. */
  readonly snapshots = new Map<number, number>([[0, 0]]);
  /** Entries handed to any storage so far (replication progress, for the stall check). */
  entriesPersisted = 0;
  /** Client command → index at which it was first applied. */
  readonly appliedCmds = new Map<string, number>();
  readonly stats: ClusterStats = {
    crashes: 0,
    restarts: 0,
    proposals: 0,
    reads: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    confChangesApplied: 0,
    transfers: 0,
    wipes: 0,
    nonMemberDrops: 0,
    stalls: 0,
    leaderStalls: 0,
    lateTicks: 0,
    resumeReads: 0,
    resumeReadsServed: 0,
    resumeReadsFromLease: 0,
    inboxDrops: 0,
  };
  /** After healing: no late timers (stalls are started by the driver, which stops doing so). */
  calmTime = false;
  private readonly timeRng: Prng;
  /** Read contexts of the lease reads sent just before a resume → when (to count the answered ones). */
  private readonly resumeReadCtx = new Map<string, number>();
  /** The newest membership any node has applied, and the index of its conf entry. */
  latestConf: ConfState | null = null;
  latestConfIndex = 0;
  /** Node → log index of the latest conf entry that removed it. */
  private readonly removedAt = new Map<NodeId, number>();
  /** Nodes elected leader since the driver last looked (it may schedule their crash). */
  readonly newLeaders: SimNode[] = [];
  /** Snapshot sends that were lost, reported to their leader at the next step (never re-entrantly). */
  private readonly lostSnaps: Message[] = [];
  private readonly unreachable: Message[] = [];
  private nextCmd = 0;
  private nextRead = 0;

  constructor(private readonly o: ClusterOptions) {
    const phases = o.ids.map(() => o.rng.int(TICK_MS));
    this.timeRng = o.timeRng ?? o.rng.fork();
    const rates = drawRates(this.timeRng, o.ids.length, o.profile.time);
    for (const [i, id] of o.ids.entries()) {
      // A clock base far from 0: the core must use only differences of clock readings.
      const time = new NodeTime(rates[i] as number, 1_000_000 * (i + 1), TICK_MS, phases[i] as number);
      const node = new SimNode(id, o.storageFactory(id), time);
      this.nodes.push(node);
      this.byId.set(id, node);
    }
  }

  /**
   * Bootstrap and start every core. 'founders': every node starts as a founding voter. 'single':
   * only the first node bootstraps a one-node cluster (graftd's own flow); the others start empty
   * and join through membership changes.
   */
  start(mode: BootstrapMode): void {
    for (const node of this.nodes) {
      if (mode === 'single' && node !== this.nodes[0]) {
        node.core = this.createCore(node);
        continue;
      }
      bootstrap(node.storage, mode === 'single' ? [node.id] : this.o.ids);
      const init = node.storage.initialState();
      const entries = node.storage.entries(1, node.storage.lastIndex() + 1);
      this.appendTracked(node, entries);
      node.commitFloor = init.hardState.commit;
      node.persistedTerm = init.hardState.term;
      this.o.checker.onCommit(node.id, init.hardState.commit, node.log, init.hardState.term);
      node.core = this.createCore(node);
    }
  }

  private createCore(node: SimNode): RaftCore {
    const incarnation = node.incarnation;
    const config: RaftConfig = {
      id: node.id,
      random: this.o.coreRng.fork().asFunction(),
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: this.o.profile.heartbeatTicks,
      preVote: this.o.profile.preVote,
      checkQuorum: this.o.profile.checkQuorum,
      maxMsgBytes: this.o.profile.maxMsgBytes,
      maxInflight: this.o.profile.maxInflight,
      maxUncommittedBytes: this.o.profile.maxUncommittedBytes,
      // The node's own monotonic clock, read at the virtual time of the call (it runs during a stall).
      clock: () => node.time.read(this.now),
      tickMs: TICK_MS,
      maxClockDrift: this.o.profile.time.maxClockDrift,
      ...(this.o.profile.time.leaseMarginMs === undefined ? {} : { leaseMarginMs: this.o.profile.time.leaseMarginMs }),
      applied: node.applied,
      onEvent: (ev) => this.onEvent(node, incarnation, ev),
      ...(this.o.testFaults === null ? {} : { testFaults: this.o.testFaults }),
    };
    return this.o.createRaft(config, node.storage);
  }

  private onEvent(node: SimNode, incarnation: number, ev: RaftEvent): void {
    if (incarnation !== node.incarnation) return;
    const trace = this.o.trace;
    switch (ev.kind) {
      case 'role':
        if (ev.role === 'leader' && (node.role !== 'leader' || node.term !== ev.term)) {
          try {
            this.o.checker.onLeader(node.id, ev.term);
          } catch (err) {
            if (err instanceof ViolationError && this.pending === null) this.pending = err;
          }
          node.leaderCheckTerm = ev.term;
          this.newLeaders.push(node);
        }
        if (ev.role !== node.role || ev.term !== node.term) {
          node.steadyLeader = false;
          trace.add(this.now, `${node.id} ${ev.role} term ${ev.term}${ev.leader === '' ? '' : ` leader ${ev.leader}`}`);
        }
        node.role = ev.role;
        node.term = ev.term;
        node.leader = ev.leader;
        break;
      case 'confChange':
        if (ev.change.type === 'removeNode')
          this.removedAt.set(ev.change.nodeId, Math.max(ev.index, this.removedAt.get(ev.change.nodeId) ?? 0));
        trace.add(this.now, `${node.id} conf change ${ev.change.type} ${ev.change.nodeId} at index ${ev.index}`);
        break;
      case 'send':
      case 'recv':
        if (trace.verbose) trace.add(this.now, `${node.id} ${ev.kind} ${describe(ev.message)}`);
        break;
      case 'violation':
        trace.add(this.now, `${node.id} DROPPED ${ev.type} from ${ev.from} term ${ev.term}: ${ev.reason} (${ev.detail})`);
        if (ev.reason === 'non-member') this.stats.nonMemberDrops++;
        // Every simulated node is correct: only a deliberately broken core may send what the protocol forbids.
        else if (this.o.testFaults === null && this.pending === null)
          this.pending = new ViolationError('admission', `${node.id} dropped ${ev.type} from ${ev.from}: ${ev.reason} (${ev.detail})`);
        break;
      case 'vote':
        if (trace.verbose)
          trace.add(
            this.now,
            `${node.id} ${ev.pre ? 'pre' : ''}vote term ${ev.term} for ${ev.candidate}: ${ev.granted ? 'granted' : 'refused'}`,
          );
        break;
      default:
        break;
    }
  }

  /** Throw the violation a callback recorded, if any. */
  rethrow(): void {
    if (this.pending !== null) throw this.pending;
  }

  private appendTracked(node: SimNode, entries: readonly Entry[]): void {
    this.entriesPersisted += entries.length;
    const problem = node.log.append(entries, (e, prefix) => this.o.checker.onPersist(node.id, e, prefix));
    if (problem !== null) throw new ViolationError('storage', `${node.id} was asked to persist an impossible batch: ${problem}`);
  }

  // ---- network ---------------------------------------------------------------------------------

  /** Called by the network for every lost message; `cut` when a partition lost it (the transport would notice). */
  onDrop(msg: Message, cut: boolean): void {
    if (msg.type === 'snap') this.lostSnaps.push(msg);
    else if (cut && this.unreachable.length < MAX_DEFERRED && this.o.rng.chance(0.05)) this.unreachable.push(msg);
  }

  /** Report lost snapshot sends and broken links to their leaders (the runtime's transport noticed). */
  reportLostSnapshots(): void {
    while (this.lostSnaps.length > 0) {
      const msg = this.lostSnaps.pop() as Message;
      this.toLeader(msg.from, (core) => core.reportSnapshot(msg.to, false));
    }
    while (this.unreachable.length > 0) {
      const msg = this.unreachable.pop() as Message;
      this.toLeader(msg.from, (core) => core.reportUnreachable(msg.to));
    }
  }

  /** A transport report to `id` if it leads (queued while it is stalled: the callback waits for its event loop). */
  private toLeader(id: NodeId, fn: (core: RaftCore) => void): void {
    const node = this.byId.get(id);
    if (node === undefined) return;
    const run = (): void => {
      if (node.core !== null && node.role === 'leader') fn(node.core);
    };
    if (node.time.stalledUntil >= 0) this.enqueue(node, 'transport', run);
    else run();
  }

  /** Deliver one message to its destination core (lost if that node is down, queued if it is stalled). */
  deliver(msg: Message): void {
    const node = this.byId.get(msg.to);
    if (node?.core == null) {
      if (msg.type === 'snap') this.lostSnaps.push(msg);
      return;
    }
    if (node.time.stalledUntil >= 0) {
      if (!this.enqueue(node, msg.from, () => this.stepNow(node, msg)) && msg.type === 'snap') this.lostSnaps.push(msg);
      return;
    }
    this.stepNow(node, msg);
  }

  private stepNow(node: SimNode, msg: Message): void {
    const core = node.core;
    if (core === null) return;
    core.step(msg);
    if (msg.type === 'snap') this.toLeader(msg.from, (c) => c.reportSnapshot(msg.to, true));
  }

  // ---- time: ticks, stalls ------------------------------------------------------------------------

  /** Fire every running node's tick that is due on its own clock (possibly held back by a late timer). */
  fireTimers(): void {
    const t = this.o.profile.time;
    const lateRate = this.calmTime ? 0 : t.lateTickRate;
    for (const node of this.nodes) {
      if (!node.running) continue;
      const fire = node.time.poll(this.now, this.timeRng, lateRate, t.lateTickMaxMs);
      if (fire === 'no') continue;
      if (fire === 'late') this.stats.lateTicks++;
      this.tick(node, fire === 'late');
    }
  }

  private tick(node: SimNode, late: boolean): void {
    node.time.fired(this.now, late);
    const core = node.core;
    if (core === null) return;
    core.tick();
    this.maybeCompact(node);
  }

  /** Queue an event for a stalled node; false when its inbox is full (the event is lost). */
  private enqueue(node: SimNode, source: string, run: () => void): boolean {
    if (node.inboxSize >= MAX_INBOX) {
      this.stats.inboxDrops++;
      return false;
    }
    let q = node.inbox.get(source);
    if (q === undefined) {
      q = [];
      node.inbox.set(source, q);
    }
    q.push(run);
    node.inboxSize++;
    return true;
  }

  /** Stop `node`'s process for `ms` virtual ms: its clock runs on, it ticks and handles nothing. */
  stall(node: SimNode, ms: number): void {
    if (!node.running) return;
    node.time.stalledUntil = this.now + ms;
    this.stats.stalls++;
    if (node.role === 'leader') this.stats.leaderStalls++;
    this.o.trace.add(this.now, `${node.id} STALL (${node.role}) until ${node.time.stalledUntil}ms`);
  }

  /**
   * Resume a stalled node: exactly one late tick if one came due (a timer does not catch up), and
   * everything queued meanwhile, in a random interleaving of its sources (each peer's messages, the
   * clients', the transport's, the timer), each source in arrival order as over a connection; the
   * node's Ready is processed between events at random, as the runtime's event loop would. A
   * stalled leader may get lease reads sent just before it resumes (issued now, so they must see
   * everything committed while it was stopped).
   */
  resume(node: SimNode): void {
    if (node.time.stalledUntil < 0) return;
    node.time.stalledUntil = -1;
    const sources = node.inbox;
    node.inbox = new Map();
    node.inboxSize = 0;
    if (node.core === null) return;
    const incarnation = node.incarnation;
    if (node.time.due(this.now)) sources.set('timer', [() => this.tick(node, true)]);
    const rng = this.timeRng;
    if (node.role === 'leader' && rng.chance(this.o.profile.time.resumeReads)) {
      // Another client's connection: its requests may be handled before or after the queued ones.
      const reads: (() => void)[] = [];
      const count = rng.range(1, MAX_RESUME_READS);
      for (let i = 0; i < count; i++) {
        const ctx = this.issueRead();
        this.resumeReadCtx.set(ctx, this.now);
        this.stats.resumeReads++;
        reads.push(() => this.readNow(node, ctx, 'lease'));
      }
      sources.set('resume-client', reads);
    }
    this.o.trace.add(
      this.now,
      `${node.id} RESUME (${node.role}) with ${[...sources.values()].reduce((n, q) => n + q.length, 0)} queued events`,
    );
    const keys = [...sources.keys()];
    for (;;) {
      const live = keys.filter((k) => (sources.get(k)?.length ?? 0) > 0);
      if (live.length === 0 || node.core === null || node.incarnation !== incarnation) break;
      const run = (sources.get(rng.pick(live)) as (() => void)[]).shift() as () => void;
      run();
      this.rethrow();
      if (rng.chance(0.5)) this.processNode(node);
    }
    this.processNode(node);
  }

  // ---- Ready processing -----------------------------------------------------------------------

  /** Process every pending Ready of every running node (bounded per node); stalled nodes wait. */
  processAll(): void {
    for (const node of this.nodes) if (node.time.stalledUntil < 0) this.processNode(node);
  }

  private processNode(node: SimNode): void {
    let rounds = 0;
    while (node.core?.hasReady()) {
      if (++rounds > MAX_READY_PER_STEP)
        throw new ViolationError('core-error', `${node.id} still has a Ready after ${MAX_READY_PER_STEP} rounds in one step`);
      this.processReady(node);
    }
    if (node.crashPoint !== null) this.crashNow(node);
  }

  /** Persist, send, apply, serve reads, advance — with a crash possibly striking in between. */
  private processReady(node: SimNode): void {
    const core = node.core as RaftCore;
    const rd: Ready = core.ready();
    const checker = this.o.checker;

    // 1. Persist (snapshot first: it replaces the log the entries follow).
    if (rd.snapshot !== null && rd.snapshot.index > 0) {
      const meta = rd.snapshot;
      const app = this.snapshots.get(meta.index);
      if (app === undefined) throw new ViolationError('core-error', `${node.id} got snapshot ${meta.index} that no node ever took`);
      const prefix = checker.prefixOf(meta.index, meta.term);
      if (prefix === undefined) {
        throw new ViolationError(
          'log-matching',
          `${node.id} got snapshot (index ${meta.index}, term ${meta.term}) matching no entry any node persisted`,
        );
      }
      node.storage.applySnapshot(meta);
      node.log.installSnapshot(meta.index, meta.term, prefix);
      if (meta.index < node.applied)
        throw new ViolationError(
          'state-machine-safety',
          `${node.id} installed snapshot ${meta.index} below its applied index ${node.applied}`,
        );
      node.applied = meta.index;
      node.appHash = app;
      checker.checkAppState(node.id, meta.index, app, 'snapshot install');
      this.stats.snapshotsInstalled++;
      this.o.trace.add(this.now, `${node.id} installed snapshot index ${meta.index} term ${meta.term}`);
    }
    const hs = rd.hardState;
    if (hs !== null) {
      if (hs.term < node.persistedTerm)
        throw new ViolationError('election-safety', `${node.id} persisted term ${hs.term} after term ${node.persistedTerm}`);
      if (hs.term === node.persistedTerm && node.persistedVote !== '' && hs.vote !== node.persistedVote) {
        throw new ViolationError(
          'election-safety',
          `${node.id} voted twice in term ${hs.term}: for ${node.persistedVote}, then for ${hs.vote || 'nobody'}`,
        );
      }
      if (hs.commit < node.commitFloor)
        throw new ViolationError('commit-regression', `${node.id} persisted commit ${hs.commit} after ${node.commitFloor}`);
    }
    if (hs !== null || rd.entries.length > 0) {
      const synced = rd.entries.length > 0 || (hs !== null && (hs.term !== node.persistedTerm || hs.vote !== node.persistedVote));
      this.appendTracked(node, rd.entries);
      node.storage.save(hs, rd.entries);
      if (node.storage.lastIndex() !== node.log.lastIndex) {
        throw new ViolationError(
          'storage',
          `${node.id}'s storage reports last index ${node.storage.lastIndex()} after a save, the log written ends at ${node.log.lastIndex}`,
        );
      }
      if (hs !== null) {
        if (
          this.o.checkCommitRule &&
          node.steadyLeader &&
          hs.commit > node.commitFloor &&
          hs.term === node.term &&
          node.log.termAt(hs.commit) !== hs.term
        ) {
          // Raft §5.4.2 / Figure 8: a leader commits by counting replicas only entries of its own term.
          throw new ViolationError(
            'commit-rule',
            `leader ${node.id} of term ${hs.term} advanced its commit to index ${hs.commit}, an entry of term ${node.log.termAt(hs.commit)} (Figure 8: only current-term entries are committed by counting)`,
          );
        }
        node.persistedTerm = hs.term;
        node.persistedVote = hs.vote;
        node.commitFloor = hs.commit;
        checker.onCommit(node.id, hs.commit, node.log, hs.term);
      }
      if (synced) node.syncedCommit = node.commitFloor;
    }
    if (node.leaderCheckTerm >= 0) {
      const term = node.leaderCheckTerm;
      checker.checkLeaderLog(node.id, term, node.log, checker.committedBefore(term));
      node.leaderCheckTerm = -1;
    }
    if (node.crashPoint === 'afterSave') {
      this.crashNow(node);
      return;
    }

    // 2. Send.
    for (const m of rd.messages) this.o.net.send(m, this.now);
    if (node.crashPoint === 'afterSend') {
      this.crashNow(node);
      return;
    }

    // 3. Apply committed entries, then serve reads.
    let confApplied = 0;
    for (const e of rd.committedEntries) {
      node.appHash = checker.onApply(node.id, e, node.applied, node.appHash);
      node.applied = e.index;
      if (e.type === 'conf') {
        confApplied = e.index;
        this.stats.confChangesApplied++;
      } else if (e.data.length > 0) {
        const cmd = decoder.decode(e.data);
        if (!this.appliedCmds.has(cmd)) this.appliedCmds.set(cmd, e.index);
      }
    }
    for (const rs of rd.readStates) {
      const sent = this.resumeReadCtx.get(rs.ctx);
      if (sent !== undefined) {
        this.resumeReadCtx.delete(rs.ctx);
        this.stats.resumeReadsServed++;
        if (sent === this.now) this.stats.resumeReadsFromLease++;
      }
      checker.onReadState(node.id, rs.ctx, rs.index);
    }

    // 4. Acknowledge.
    core.advance(rd);
    node.steadyLeader = node.role === 'leader';
    if (confApplied > 0) {
      const cs = core.confState();
      if (confApplied > this.latestConfIndex) {
        this.latestConfIndex = confApplied;
        this.latestConf = cs;
      }
      this.o.trace.add(
        this.now,
        `${node.id} applied up to ${node.applied}: voters [${cs.voters.join(' ')}] learners [${cs.learners.join(' ')}]`,
      );
    }
  }

  // ---- crash and restart ----------------------------------------------------------------------

  /** Crash `node` now or at a point inside its next Ready processing. */
  crash(node: SimNode, point: CrashPoint, downMs: number): void {
    if (!node.alive) return;
    node.restartAtMs = this.now + downMs;
    // A stopped process is killed where it stands.
    if (point === 'now' || node.time.stalledUntil >= 0) this.crashNow(node);
    else node.crashPoint = point;
  }

  private crashNow(node: SimNode): void {
    this.o.trace.add(
      this.now,
      `${node.id} CRASH${node.crashPoint === null ? '' : ` ${node.crashPoint}`} (down until ${node.restartAtMs}ms)`,
    );
    node.core = null;
    node.crashPoint = null;
    node.incarnation++;
    node.role = 'follower';
    node.leader = '';
    node.leaderCheckTerm = -1;
    node.crashAtMs = -1;
    node.steadyLeader = false;
    node.time.stalledUntil = -1;
    node.inbox = new Map();
    node.inboxSize = 0;
    this.stats.crashes++;
  }

  /** Restart a crashed node over its surviving storage; the state machine restarts from its snapshot. */
  restart(node: SimNode): void {
    if (node.alive) return;
    if (this.o.reopenStorage !== null) node.storage = this.o.reopenStorage(node.id, node.storage);
    const storage = node.storage;
    const { hardState } = storage.initialState();
    if (this.o.volatileCommit === true && hardState.commit >= node.syncedCommit) node.commitFloor = hardState.commit;
    if (hardState.commit < node.commitFloor) {
      throw new ViolationError(
        'commit-regression',
        `${node.id} restarted with persisted commit ${hardState.commit}, below the ${node.commitFloor} it persisted before`,
      );
    }
    if (hardState.term !== node.persistedTerm || hardState.vote !== node.persistedVote) {
      throw new ViolationError(
        'storage',
        `${node.id} restarted with term ${hardState.term} vote '${hardState.vote}', but term ${node.persistedTerm} vote '${node.persistedVote}' was saved`,
      );
    }
    const last = storage.lastIndex();
    if (last !== node.log.lastIndex || (last >= storage.firstIndex() - 1 && storage.term(last) !== node.log.termAt(last))) {
      throw new ViolationError(
        'storage',
        `${node.id} restarted with last index ${last}, but the log saved before the crash ends at ${node.log.lastIndex}`,
      );
    }
    const snapIndex = storage.snapshotMeta().index;
    const app = this.snapshots.get(snapIndex);
    if (app === undefined) throw new ViolationError('storage', `${node.id} restarted with snapshot ${snapIndex} that no node ever took`);
    node.applied = snapIndex;
    node.appHash = app;
    node.role = 'follower';
    node.term = hardState.term;
    node.leader = '';
    node.time.restartTimer(this.now);
    node.core = this.createCore(node);
    const commit = node.core.status().commit;
    if (commit < hardState.commit)
      throw new ViolationError('commit-regression', `${node.id} restarted with commit ${commit}, below its persisted ${hardState.commit}`);
    this.stats.restarts++;
    this.o.trace.add(this.now, `${node.id} RESTART term ${hardState.term} commit ${hardState.commit} last ${last} snapshot ${snapIndex}`);
  }

  // ---- client operations ------------------------------------------------------------------------

  /** Live nodes that believe they lead. */
  leaders(): SimNode[] {
    return this.nodes.filter((n) => n.alive && n.role === 'leader');
  }

  /** Propose client commands to `node`; returns the command ids if the core accepted them. */
  propose(node: SimNode, count: number): string[] | null {
    const cmds: string[] = [];
    for (let i = 0; i < count; i++) cmds.push(`c${this.nextCmd++}`);
    return this.proposeCmds(node, cmds) ? cmds : null;
  }

  /** Propose the given command ids (a client retry re-proposes the same ids); queued for a stalled node (then reported as accepted). */
  proposeCmds(node: SimNode, cmds: readonly string[]): boolean {
    const core = node.core;
    if (core === null) return false;
    this.stats.proposals++;
    const run = (): boolean => node.core !== null && expected(() => node.core?.propose(cmds.map((c) => encoder.encode(c))));
    if (node.time.stalledUntil >= 0) return this.enqueue(node, 'client', run);
    return run();
  }

  /** Issue a ReadIndex read to `node` (queued while it is stalled: the client's request waits in its socket). */
  read(node: SimNode, mode: 'safe' | 'lease'): void {
    if (node.core === null) return;
    const ctx = this.issueRead(mode === 'lease');
    if (node.time.stalledUntil >= 0) {
      if (!this.enqueue(node, 'client', () => this.readNow(node, ctx, mode))) this.o.checker.dropRead(ctx);
      return;
    }
    this.readNow(node, ctx, mode);
  }

  /** A client sends a read now: its answer must cover everything committed so far. */
  private issueRead(lease = true): string {
    const ctx = `r${this.nextRead++}`;
    this.stats.reads++;
    this.o.checker.onReadIssued(ctx, lease ? 'lease' : 'safe');
    return ctx;
  }

  private readNow(node: SimNode, ctx: string, mode: 'safe' | 'lease'): void {
    const core = node.core;
    if (core === null || !expected(() => core.readIndex(ctx, mode))) this.o.checker.dropRead(ctx);
  }

  /**
   * One step of the membership cycle, proposed on `leader`: remove a voter while all nodes are voters,
   * add a missing node back as a learner, promote a caught-up learner.
   */
  changeMembership(leader: SimNode, rng: Prng): void {
    const core = leader.core;
    if (core === null) return;
    const cs = core.confState();
    let change: ConfChange | null = null;
    const missing = this.o.ids.filter((id) => !cs.voters.includes(id) && !cs.learners.includes(id));
    const learner = cs.learners[0];
    if (learner !== undefined) {
      const st = core.status();
      const p = st.progress[learner];
      if (p !== undefined && p.match >= st.commit) change = { type: 'promoteLearner', nodeId: learner, context: '' };
    } else if (missing.length > 0) {
      const id = rng.pick(missing);
      const node = this.byId.get(id);
      if (node !== undefined && rng.chance(0.5)) this.maybeWipe(node, core, cs);
      change = { type: 'addLearner', nodeId: id, context: `addr-${id}` };
    } else if (cs.voters.length === this.o.ids.length) {
      const others = cs.voters.filter((v) => v !== leader.id);
      const id = rng.chance(0.2) || others.length === 0 ? leader.id : rng.pick(others);
      change = { type: 'removeNode', nodeId: id, context: '' };
    }
    if (change === null) return;
    const c = change;
    if (expected(() => core.proposeConfChange(c))) this.o.trace.add(this.now, `${leader.id} proposed ${c.type} ${c.nodeId}`);
  }

  /**
   * Replace a removed node by a fresh, empty one (a new machine joining under the old id): it must
   * then be rebuilt from the leader's log or snapshot.
   *
   * Only done once every voter of the leader's configuration holds the entry that removed it and
   * everything committed. Before that, the removed node's copy may be part of the only majority
   * holding committed entries (the removal, and entries right after it, are committed by the old
   * configuration), and an empty node reusing its id would grant its vote to a stale candidate that
   * still counts it as a voter: committed entries would be lost. (Found by this simulator, seeds
   * 186 and 51886 --bootstrap single; an operational rule for reusing ids, not a core bug.)
   */
  private maybeWipe(node: SimNode, leader: RaftCore, leaderConf: ConfState): void {
    const member = (cs: ConfState | null): boolean => cs !== null && (cs.voters.includes(node.id) || cs.learners.includes(node.id));
    if (member(leaderConf) || member(this.latestConf)) return;
    const removed = this.removedAt.get(node.id);
    if (removed === undefined) return;
    // Entries after the removal may have been committed with the removed node's ack too (the old
    // membership counts until the removal is applied): everything committed must be on every voter.
    const st = leader.status();
    const needed = Math.max(removed, st.commit);
    if (!leaderConf.voters.every((v) => (st.progress[v]?.match ?? 0) >= needed)) return;
    if (node.alive) this.crashNow(node);
    this.o.net.purge(node.id);
    this.stats.wipes++;
    this.o.trace.add(this.now, `${node.id} WIPED: restarts empty, to rejoin as a learner`);
    node.storage = this.o.storageFactory(node.id);
    node.log = new LogTracker();
    node.applied = 0;
    node.appHash = 0;
    node.commitFloor = 0;
    node.syncedCommit = 0;
    node.persistedTerm = 0;
    node.persistedVote = '';
    node.term = 0;
    this.restart(node);
  }

  /** Ask `leader` to hand leadership to another voter. */
  transfer(leader: SimNode, rng: Prng): void {
    const core = leader.core;
    if (core === null) return;
    const others = core.confState().voters.filter((v) => v !== leader.id);
    if (others.length === 0) return;
    const target = rng.pick(others);
    this.stats.transfers++;
    this.o.trace.add(this.now, `${leader.id} transfer leadership to ${target}`);
    expected(() => core.transferLeader(target));
  }

  /** Take a local snapshot at the applied index when due, and compact behind it keeping `trailing` entries. */
  maybeCompact(node: SimNode): void {
    const core = node.core;
    if (core === null) return;
    const storage = node.storage;
    const snapIndex = storage.snapshotMeta().index;
    if (node.applied - snapIndex < this.o.profile.snapshotEvery) return;
    const index = node.applied;
    const meta = { index, term: storage.term(index), confState: core.confState() };
    storage.createSnapshot(meta);
    const known = this.snapshots.get(index);
    if (known === undefined) this.snapshots.set(index, node.appHash);
    this.o.checker.checkAppState(node.id, index, node.appHash, 'local snapshot');
    this.stats.snapshotsTaken++;
    const upTo = index - this.o.profile.trailing;
    if (upTo >= storage.firstIndex()) storage.compact(upTo);
  }
}

/** Run a client call; true when it succeeded, false when it failed with an error a client may get. */
function expected(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof GraftdError && EXPECTED_CODES.has(err.code)) return false;
    throw err;
  }
}

/** One-line description of a message for verbose traces. */
export function describe(m: Message): string {
  const ents = m.entries.length === 0 ? '' : ` entries ${m.entries[0]?.index}..${m.entries[m.entries.length - 1]?.index}`;
  return `${m.type} ${m.from}->${m.to} term ${m.term} logTerm ${m.logTerm} index ${m.index} commit ${m.commit}${ents}${m.reject ? ` reject hint ${m.rejectHint}` : ''}${m.context === '' ? '' : ` ctx ${m.context}`}${m.snapshot === null ? '' : ` snap ${m.snapshot.index}`}`;
}
