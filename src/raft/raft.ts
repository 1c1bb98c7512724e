/**
 * The Raft state machine: roles, elections, replication, commit, reads, transfers, membership.
 *
 * Why one pure class: every input (tick, step, propose, ...) is a synchronous state transition that
 * only queues outputs; the runtime collects them as a Ready, performs the I/O and acknowledges with
 * advance(). Nothing here touches a clock, a socket, a file or Math.random, so the simulator can
 * replay any interleaving exactly. Modelled on etcd-io/raft (PreVote, CheckQuorum, progress states,
 * ReadIndex), written from the paper and that design.
 */
import { ConfChangeInProgressError, GraftdError, InvalidConfChangeError, NotLeaderError, ProposalDroppedError, assert } from '../errors.ts';
import { MAX_TERM, type ViolationReason, isLeaderMessage, shapeProblem, termProblem } from './admission.ts';
import type { CreateRaft, ProposeResult, RaftConfig, RaftCore, RaftTestFaults } from './api.ts';
import {
  applyConfChange,
  bootstrapSize,
  confChangeProblem,
  decodeConfChange,
  encodeConfChange,
  validateConfChange,
} from './conf-change.ts';
import { RaftLog, TERM_COMPACTED, TERM_UNAVAILABLE, entriesBytes } from './log.ts';
import { NO_ENTRIES, appendMessage, appendResponse, makeMessage } from './message.ts';
import { Progress } from './progress.ts';
import { committedIndex, hasQuorum, voteResult } from './quorum.ts';
import { ReadOnly } from './read-only.ts';
import { type Timing, resolveTiming } from './timing.ts';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ProgressView,
  RaftEvent,
  RaftStatus,
  ReadState,
  Ready,
  Role,
  SnapshotMeta,
  SoftState,
  Storage,
} from './types.ts';

/** Committed entries handed out per Ready are capped at this many data bytes (at least one entry). */
export const MAX_COMMITTED_BYTES_PER_READY = 64 * 1024 * 1024;
/**
 * A follower in snapshot state that neither acknowledges the snapshot nor is reported on via
 * reportSnapshot() within this many election timeouts is sent the snapshot again.
 */
export const SNAPSHOT_TIMEOUT_ELECTIONS = 5;
/** Read states answered but not yet taken by ready() are capped (lease reads answered at once). */
export const MAX_READ_STATES = 1 << 16;

const EMPTY_DATA = new Uint8Array(0);
type CampaignKind = 'preElection' | 'election' | 'transfer';

function badConfig(message: string): GraftdError {
  return new GraftdError('GRAFTD_BAD_CONFIG', `raft config: ${message}`);
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw badConfig(`${name} must be an integer ≥ 1, got ${v}`);
  return v;
}

/** The consensus core. See {@link RaftCore} for the contract. */
export class Raft implements RaftCore {
  readonly id: NodeId;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly random: () => number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly startupQuietTicks: number;
  private readonly timing: Timing;
  private readonly maxMsgBytes: number;
  private readonly maxInflight: number;
  private readonly maxUncommittedBytes: number;
  private readonly onEvent: ((event: RaftEvent) => void) | undefined;
  private readonly faults: RaftTestFaults;
  /** Any test fault on: assertions that an injected bug would trip are relaxed so the simulator sees the bug's effects. */
  private readonly faultsOn: boolean;

  // Persistent state (mirrored to storage through Ready.hardState).
  private term = 0;
  private vote: NodeId = '';
  readonly log: RaftLog;

  // Volatile state.
  private role: Role = 'follower';
  private lead: NodeId = '';
  private conf: ConfState;
  /** Index at which `conf` took effect (snapshot index or conf entry index). */
  private confIndex: number;
  /** The last conf entry applied is a bootstrap entry other than the last one: the membership is incomplete. */
  private bootstrapPending = false;
  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private tickCount = 0;
  private leadTransferee: NodeId = '';
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  private readonly readOnly = new ReadOnly();
  /** Leader clock time of the latest round a quorum acknowledged: lease reads are served for timing.leaseMs after it. */
  private leaseStartAt = Number.NEGATIVE_INFINITY;
  /** The same in ticks (only for the tickLeases test fault: what leases were before they were on the clock). */
  private leaseStartTick = Number.NEGATIVE_INFINITY;
  /** Clock time when a message from the leader we follow last arrived (our promise not to vote for another runs from it). */
  private leaderContactAt = Number.NEGATIVE_INFINITY;
  /** Clock time this core was created (the startup quiet period runs from it). */
  private readonly startedAt: number;
  /** Clock time of the previous tick (a late tick reveals a stall). */
  private lastTickAt: number;
  /** A leader measures quorum contact from no earlier than this: when it took office or resumed from a stall. */
  private contactFloor = Number.NEGATIVE_INFINITY;
  /** Leader sent TimeoutNow this term: the target may win at any time, so no more lease reads. */
  private leaseBroken = false;
  private needBcast = false;
  private readonly commitScratch: number[] = [];
  /**
   * Members added (addVoter, addLearner, promoteLearner) by conf entries in our log beyond `applied`,
   * by id → index of the latest such entry. They are admitted as senders before their entry is
   * applied: the founders of a bootstrap being replayed, a new leader whose promotion this node
   * holds but has not applied yet (its commit index may even come from that leader). Pruned as
   * entries are applied; cleared when a snapshot replaces the log.
   */
  private readonly logMembers = new Map<NodeId, number>();
  /** Messages dropped as protocol violations. */
  private violationCount = 0;

  // Outputs waiting for the next Ready.
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig, storage: Storage) {
    if (typeof config.id !== 'string' || config.id === '') throw badConfig('id must be a non-empty string');
    if (typeof config.random !== 'function') throw badConfig('random must be a function returning a float in [0, 1)');
    this.id = config.id;
    this.electionTicks = positiveInt('electionTicks', config.electionTicks, 10);
    this.heartbeatTicks = positiveInt('heartbeatTicks', config.heartbeatTicks, 1);
    if (this.heartbeatTicks >= this.electionTicks) {
      throw badConfig(`heartbeatTicks (${this.heartbeatTicks}) must be < electionTicks (${this.electionTicks})`);
    }
    this.random = config.random;
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.startupQuietTicks = config.startupQuietTicks ?? this.electionTicks;
    if (!Number.isInteger(this.startupQuietTicks) || this.startupQuietTicks < 0) {
      throw badConfig(`startupQuietTicks must be an integer ≥ 0, got ${this.startupQuietTicks}`);
    }
    this.timing = resolveTiming(config, this.electionTicks, this.startupQuietTicks, () => this.tickCount);
    this.startedAt = this.timing.clock();
    this.lastTickAt = this.startedAt;
    this.maxMsgBytes = positiveInt('maxMsgBytes', config.maxMsgBytes, 1024 * 1024);
    this.maxInflight = positiveInt('maxInflight', config.maxInflight, 256);
    this.maxUncommittedBytes = positiveInt('maxUncommittedBytes', config.maxUncommittedBytes, 64 * 1024 * 1024);
    this.onEvent = config.onEvent;
    this.faults = config.testFaults ?? {};
    this.faultsOn =
      this.faults.commitPreviousTermByCounting === true ||
      this.faults.voteTwice === true ||
      this.faults.readIndexWithoutQuorum === true ||
      this.faults.tickLeases === true;

    const { hardState, confState } = storage.initialState();
    const snap = storage.snapshotMeta();
    const applied = config.applied ?? snap.index;
    const lastIndex = storage.lastIndex();
    assert(
      applied >= snap.index,
      `applied ${applied} is below the storage snapshot ${snap.index}: restore the state machine from that snapshot first`,
    );
    assert(applied <= lastIndex, `applied ${applied} is beyond the last log index ${lastIndex}`);
    assert(hardState.commit <= lastIndex, `persisted commit ${hardState.commit} is beyond the last log index ${lastIndex}`);
    const commit = Math.max(hardState.commit, applied);
    this.log = new RaftLog(storage, commit, applied);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.conf = confState;
    this.confIndex = snap.index;
    // Replay membership changes the state machine already applied (so confState() matches `applied`).
    for (let lo = snap.index + 1, guard = 0; lo <= applied; guard++) {
      assert(guard <= applied - snap.index, 'conf replay loop did not progress');
      const ents = this.log.entries(lo, applied + 1, this.maxMsgBytes);
      for (const e of ents) if (e.type === 'conf') this.applyConfEntry(e);
      lo += ents.length;
    }
    this.noteLogMembers(applied + 1, lastIndex);
    this.becomeFollower(this.term, '', 'started');
    this.prevSoft = { role: this.role, leader: this.lead, term: this.term };
    this.prevHard = hardState;
  }

  // ---------------------------------------------------------------------------------------------
  // Small helpers

  private emit(event: RaftEvent): void {
    (this.onEvent as (event: RaftEvent) => void)(event);
  }

  private send(m: Message): void {
    this.msgs.push(m);
    if (this.onEvent !== undefined) this.emit({ kind: 'send', message: m });
  }

  private isVoter(id: NodeId): boolean {
    return this.conf.voters.includes(id);
  }

  /**
   * Whether messages from `id` are admitted: a member of the applied configuration, or added by a
   * conf entry in our log not yet applied. A node with an empty configuration (a fresh joiner, which
   * learns the membership from the leader) admits anyone.
   */
  private isKnownMember(id: NodeId): boolean {
    const c = this.conf;
    if (c.voters.length === 0 && c.learners.length === 0) return true;
    return c.voters.includes(id) || c.learners.includes(id) || this.logMembers.has(id);
  }

  /**
   * Whether to act on `m` although its sender is not in our configuration. Our configuration is the
   * one at our applied index, which lags whenever we are behind: a node catching up (or replaying
   * history after a wipe or restart) meets leaders and candidates added after that point. So a node
   * that does not follow a live leader (none heard within an election timeout: the same rule that
   * lets it grant votes) accepts leader messages and vote requests from a stranger, and keeps
   * accepting the leader it then follows in that term. A leader, and a follower of a live leader,
   * drop everything from strangers: that is when a correct stranger has nothing to say to them.
   * Responses from strangers are never needed (votes and progress count members only).
   */
  private admitsStranger(m: Message): boolean {
    if (m.from === this.lead && m.term >= this.term) return true;
    if (this.role === 'leader') return false;
    if (!isLeaderMessage(m.type) && m.type !== 'vote' && m.type !== 'preVote') return false;
    return this.lead === '' || this.electionElapsed >= this.electionTicks;
  }

  /** Record the members added by conf entries in [lo, hi] of our log (bounded pages). */
  private noteLogMembers(lo: number, hi: number): void {
    for (let from = Math.max(lo, this.log.firstIndex()), guard = 0; from <= hi; guard++) {
      assert(guard <= hi - lo + 1, 'log member scan did not progress');
      const ents = this.log.entries(from, hi + 1, this.maxMsgBytes);
      this.noteEntriesMembers(ents);
      from += ents.length;
    }
  }

  private noteEntriesMembers(ents: readonly Entry[]): void {
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      if (e.type !== 'conf' || e.index <= this.log.applied) continue;
      let change: ConfChange;
      try {
        change = decodeConfChange(e.data);
      } catch {
        continue; // applying it will assert on our own log; admission is not the place
      }
      if (change.type !== 'removeNode') this.logMembers.set(change.nodeId, e.index);
    }
  }

  /** Drop `m` as a protocol violation: count it, report it, change nothing else. */
  private violation(m: Message, reason: ViolationReason, detail: string): void {
    this.violationCount++;
    if (this.onEvent !== undefined) this.emit({ kind: 'violation', from: m.from, type: m.type, term: m.term, reason, detail });
  }

  /** Why `m` must be dropped before it touches any state, or null. Pure. */
  private refusal(m: Message): [ViolationReason, string] | null {
    if (m.to !== this.id || m.from === this.id || typeof m.from !== 'string' || m.from === '') {
      return ['misaddressed', `message from ${String(m.from)} to ${String(m.to)} delivered to ${this.id}`];
    }
    const t = termProblem(m);
    if (t !== '') return ['term-out-of-range', t];
    const s = shapeProblem(m);
    if (s !== '') return ['malformed', s];
    if (!this.isKnownMember(m.from) && !this.admitsStranger(m)) {
      return ['non-member', `${m.from} is not a member of the configuration and ${this.id} follows a live leader`];
    }
    if (m.term !== this.term || !(isLeaderMessage(m.type) || m.type === 'timeoutNow')) return null;
    // At our own term: only the leader of this term sends these, and a term has at most one leader.
    if (this.role === 'leader' && m.type !== 'timeoutNow') {
      return ['second-leader', `${m.type} from ${m.from} in term ${m.term}, which ${this.id} leads`];
    }
    if (this.role === 'follower' && this.lead !== '' && this.lead !== m.from) {
      return ['not-the-leader', `${m.type} from ${m.from} in term ${m.term}, whose leader is ${this.lead}`];
    }
    return null;
  }

  admits(m: Message): boolean {
    return this.refusal(m) === null && m.term >= this.term;
  }

  violations(): number {
    return this.violationCount;
  }

  admitsStrangers(): boolean {
    return this.role !== 'leader' && (this.lead === '' || this.electionElapsed >= this.electionTicks);
  }

  /** Only voters campaign (learners, removed nodes and fresh joiners never do), and never on a partly replayed bootstrap. */
  private promotable(): boolean {
    return this.isVoter(this.id) && !this.bootstrapPending;
  }

  /** Assert `cond` unless a test fault is active (then the injected bug must be observable, not fatal). */
  private invariant(cond: boolean, message: string): void {
    if (!cond && !this.faultsOn) assert(false, message);
  }

  private commitTo(index: number): boolean {
    const before = this.log.committed;
    if (!this.log.commitTo(index)) return false;
    assert(this.log.committed > before, 'commit must only increase');
    if (this.onEvent !== undefined) this.emit({ kind: 'commit', index: this.log.committed });
    return true;
  }

  private resetRandomizedElectionTimeout(): void {
    const r = this.random();
    assert(r >= 0 && r < 1, `config.random returned ${r}, expected a float in [0, 1)`);
    this.randomizedElectionTimeout = this.electionTicks + Math.floor(r * this.electionTicks);
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions

  private reset(term: number): void {
    if (this.term !== term) {
      assert(term > this.term, `term must never decrease: ${this.term} -> ${term}`);
      this.term = term;
      this.vote = '';
    }
    this.lead = '';
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = '';
    this.votes.clear();
    this.progress.clear();
    this.pendingConfIndex = 0;
    this.readOnly.reset();
    this.uncommittedBytes = 0;
    this.needBcast = false;
    this.leaseStartAt = Number.NEGATIVE_INFINITY;
    this.leaseStartTick = Number.NEGATIVE_INFINITY;
    this.leaseBroken = false;
    this.leaderContactAt = Number.NEGATIVE_INFINITY;
  }

  private emitRole(reason: string): void {
    if (this.onEvent !== undefined) this.emit({ kind: 'role', role: this.role, term: this.term, leader: this.lead, reason });
  }

  private becomeFollower(term: number, lead: NodeId, reason: string): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
    this.emitRole(reason);
  }

  private becomePreCandidate(reason: string): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // PreVote does not touch term or vote: a partitioned node cannot inflate its term this way.
    this.votes.clear();
    this.lead = '';
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.role = 'preCandidate';
    this.emitRole(reason);
  }

  private becomeCandidate(reason: string): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.emitRole(reason);
  }

  private becomeLeader(reason: string): void {
    assert(this.role === 'candidate' || this.role === 'preCandidate', `only a candidate becomes leader, not a ${this.role}`);
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const next = this.log.lastIndex() + 1;
    for (const id of this.conf.voters) this.progress.set(id, this.newProgress(next, false));
    for (const id of this.conf.learners) this.progress.set(id, this.newProgress(next, true));
    const self = this.progress.get(this.id);
    assert(self !== undefined, 'a leader must be a member of its configuration');
    self.maybeUpdate(this.log.unstable.offset - 1); // count only what is durable
    self.recentActive = true;
    this.contactFloor = this.timing.clock(); // the voters get a full CheckQuorum window to answer the new leader
    // Entries of earlier terms may hold a conf change not yet applied: wait for them before another.
    this.pendingConfIndex = this.log.lastIndex();
    // The no-op entry: committing it commits everything before it (Raft §5.4.2) and unlocks reads.
    this.log.append([{ index: next, term: this.term, type: 'normal', data: EMPTY_DATA }]);
    this.needBcast = true;
    this.emitRole(reason);
  }

  private newProgress(next: number, isLearner: boolean): Progress {
    return new Progress(next, this.maxInflight, Number.POSITIVE_INFINITY, isLearner);
  }

  // ---------------------------------------------------------------------------------------------
  // Elections

  /** A conf entry is committed but not applied: campaigning now could use a stale membership. */
  private hasUnappliedConfChanges(): boolean {
    const log = this.log;
    if (log.committed <= log.applied) return false;
    let lo = Math.max(log.applied + 1, log.firstIndex());
    for (let guard = 0; lo <= log.committed; guard++) {
      assert(guard <= log.committed, 'unapplied conf scan did not progress');
      const ents = log.entries(lo, log.committed + 1, this.maxMsgBytes);
      for (const e of ents) if (e.type === 'conf') return true;
      lo += ents.length;
    }
    return false;
  }

  /** `why`: what started this campaign (the role event's reason). */
  private campaign(kind: CampaignKind, why: string): void {
    if (!this.promotable() || this.hasUnappliedConfChanges()) return;
    // Our own term never passes MAX_TERM (peers would refuse it; see admission.ts). Unreachable in practice.
    if (this.term >= MAX_TERM) return;
    let voteTerm: number;
    if (kind === 'preElection') {
      this.becomePreCandidate(why);
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate(why);
      voteTerm = this.term;
    }
    const pre = kind === 'preElection';
    this.votes.set(this.id, true);
    if (this.onEvent !== undefined) this.emit({ kind: 'vote', term: voteTerm, candidate: this.id, granted: true, pre, reason: '' });
    if (voteResult(this.conf.voters, this.votes) === 'won') {
      if (pre) this.campaign('election', 'won the pre-vote (only voter)');
      else this.becomeLeader('won the election (only voter)');
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    const context = kind === 'transfer' ? 'transfer' : '';
    for (const id of this.conf.voters) {
      if (id === this.id) continue;
      this.send(makeMessage(pre ? 'preVote' : 'vote', this.id, id, voteTerm, { index: lastIndex, logTerm: lastTerm, context }));
    }
  }

  private handleVoteRequest(m: Message): void {
    const pre = m.type === 'preVote';
    const canVote =
      this.vote === m.from || (this.vote === '' && this.lead === '') || (pre && m.term > this.term) || this.faults.voteTwice === true;
    const granted = canVote && this.log.isUpToDate(m.index, m.logTerm);
    const reason = granted ? '' : this.voteRefusal(m, canVote);
    if (granted) {
      if (!pre) {
        this.invariant(this.vote === '' || this.vote === m.from, `second vote in term ${this.term}: ${this.vote} then ${m.from}`);
        this.electionElapsed = 0;
        this.vote = m.from; // goes out in the same Ready as the response: persisted before it is sent
      }
      // A granted pre-vote answers in the candidate's future term; a real vote in ours (equal to it).
      this.send(makeMessage(pre ? 'preVoteResp' : 'voteResp', this.id, m.from, m.term));
    } else {
      this.send(makeMessage(pre ? 'preVoteResp' : 'voteResp', this.id, m.from, this.term, { reject: true }));
    }
    if (this.onEvent !== undefined) this.emit({ kind: 'vote', term: m.term, candidate: m.from, granted, pre, reason });
  }

  /** Why a vote request is refused, for the vote event (only computed when refused). */
  private voteRefusal(m: Message, canVote: boolean): string {
    if (!canVote) {
      if (this.vote !== '' && this.vote !== m.from) return `already voted for ${this.vote} in term ${this.term}`;
      return `following leader ${this.lead} in term ${this.term}`;
    }
    return `the candidate's log (last index ${m.index}, term ${m.logTerm}) is behind ours (last index ${this.log.lastIndex()}, term ${this.log.lastTerm()})`;
  }

  private handleVoteResponse(m: Message): void {
    if (!this.isVoter(m.from)) return;
    this.votes.set(m.from, !m.reject);
    const result = voteResult(this.conf.voters, this.votes);
    const tally = () => `${[...this.votes.values()].filter((v) => v).length} of ${this.conf.voters.length} votes`;
    if (result === 'won') {
      if (this.role === 'preCandidate') this.campaign('election', `won the pre-vote (${tally()})`);
      else {
        this.becomeLeader(`won the election (${tally()})`);
      }
    } else if (result === 'lost') {
      const refused = [...this.votes].filter(([, v]) => !v).map(([id]) => id);
      this.becomeFollower(
        this.term,
        '',
        `lost the ${this.role === 'preCandidate' ? 'pre-vote' : 'election'}: refused by ${refused.join(', ')}`,
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  tick(): void {
    this.tickCount++;
    const now = this.timing.clock();
    const late = now - this.lastTickAt > this.timing.stallMs;
    this.lastTickAt = now;
    if (this.role === 'leader') this.tickHeartbeat(now, late);
    else this.tickElection(now);
  }

  /**
   * Whether we promised the leader we follow not to vote for anyone else: we heard from it less than
   * an election timeout ago (by the clock, and by ticks, which run slower than the clock after a
   * stall and so only lengthen the promise), or we just started and may have promised it before a crash.
   */
  private inLease(now: number): boolean {
    if (!this.checkQuorum) return false;
    if (this.tickCount < this.startupQuietTicks) return true;
    if (this.faults.tickLeases !== true && now - this.startedAt < this.timing.startupQuietMs) return true;
    if (this.lead === '') return false;
    if (this.electionElapsed < this.electionTicks) return true;
    return this.faults.tickLeases !== true && now - this.leaderContactAt < this.timing.electionTimeoutMs;
  }

  private tickElection(now: number): void {
    this.electionElapsed++;
    // A timer never fires early, but clocks are the authority: do not campaign while our promise holds.
    const promised = this.role === 'follower' && this.lead !== '' && this.inLease(now);
    // The only voter has nobody to wait for (no one else can campaign or lead in its configuration):
    // it campaigns at its first tick, so a one-node cluster is ready one tick after it starts.
    const alone = this.lead === '' && this.soleVoter();
    const due = this.electionElapsed >= (alone ? 1 : this.randomizedElectionTimeout);
    if (this.promotable() && due && !promised) {
      this.electionElapsed = 0;
      this.campaign(
        this.preVote ? 'preElection' : 'election',
        this.lead === '' ? 'election timeout (no leader)' : `election timeout (no word from leader ${this.lead})`,
      );
    }
  }

  private tickHeartbeat(now: number, late: boolean): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    // After a stall the answers to our heartbeats may be waiting unread in the socket buffers: give
    // the quorum a fresh window instead of stepping down on this tick. Lease reads are unaffected
    // (they look at when a quorum last acknowledged, which the stall made old).
    if (late) this.contactFloor = now;
    if (this.checkQuorum && this.faults.tickLeases !== true && !this.quorumHeardWithin(now, this.timing.checkQuorumMs)) {
      this.becomeFollower(this.term, '', `lost quorum (CheckQuorum): no answer from a majority within ${this.timing.checkQuorumMs} ms`);
      return;
    }
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        const active = hasQuorum(this.conf.voters, (id) => id === this.id || this.progress.get(id)?.recentActive === true);
        if (!active && this.faults.tickLeases === true) {
          this.becomeFollower(this.term, '', 'lost quorum (CheckQuorum): no answer from a majority within an election timeout');
          return;
        }
        for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
      }
      if (!this.promotable()) {
        // We were removed and the hand-off has not happened yet: try again (maybe with another voter).
        this.handOffAfterRemoval();
        if (this.role !== 'leader') return;
      }
      if (this.leadTransferee !== '') this.leadTransferee = ''; // transfer took too long: abort it
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.heartbeatRound();
    }
    for (const [id, pr] of this.progress) {
      // A lost 'snap' message without reportSnapshot() would stall the follower forever: retry it.
      if (pr.state === 'snapshot' && ++pr.snapshotTicks >= SNAPSHOT_TIMEOUT_ELECTIONS * this.electionTicks) {
        pr.snapshotFailed();
        this.maybeSendAppend(id, true);
      }
    }
  }

  step(m: Message): void {
    if (this.onEvent !== undefined) this.emit({ kind: 'recv', message: m });
    const refused = this.refusal(m);
    if (refused !== null) {
      this.violation(m, refused[0], refused[1]);
      return;
    }
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // A node that heard from a leader recently ignores disruptive candidates (unless the leader asked for it).
        if (m.context !== 'transfer' && this.inLease(this.timing.clock())) {
          if (this.onEvent !== undefined) {
            const reason = `ignored: heard from leader ${this.lead || '(startup)'} within the election timeout`;
            this.emit({ kind: 'vote', term: m.term, candidate: m.from, granted: false, pre: m.type === 'preVote', reason });
          }
          return;
        }
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) {
        // PreVote never changes terms.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from, `higher term ${m.term} from leader ${m.from}`);
      } else {
        const transfer = m.context === 'transfer' ? ', leadership transfer' : '';
        this.becomeFollower(m.term, '', `higher term ${m.term} from ${m.from} (${m.type}${transfer})`);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (e.g. back from a partition) learns our term and steps down.
        this.send(appendResponse(this.id, m.from, this.term, 0, false, 0, 0));
      } else if (m.type === 'preVote') {
        this.send(makeMessage('preVoteResp', this.id, m.from, this.term, { reject: true }));
        const reason = `stale term ${m.term} (ours is ${this.term})`;
        if (this.onEvent !== undefined) this.emit({ kind: 'vote', term: m.term, candidate: m.from, granted: false, pre: true, reason });
      }
      return; // every other stale message is ignored
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        // The leader handed leadership to us: campaign at once, skipping PreVote, past any lease.
        if (this.promotable()) this.campaign('transfer', `leadership transfer from ${m.from}`);
        return;
      default:
        return; // responses meant for a leader or candidate we no longer are
    }
  }

  /** A leader message arrived: our promise not to vote for another runs from now (read before we answer it). */
  private heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.lead = from;
    this.leaderContactAt = this.timing.clock();
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        // Someone won this term.
        this.becomeFollower(m.term, m.from, `${m.from} won the election for term ${m.term}`);
        this.stepFollower(m);
        return;
      case 'preVoteResp':
        // A grant answers "term + 1"; one from an earlier pre-campaign (same term then) is stale.
        if (this.role === 'preCandidate' && (m.reject || m.term === this.term + 1)) this.handleVoteResponse(m);
        return;
      case 'voteResp':
        if (this.role === 'candidate') this.handleVoteResponse(m);
        return;
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'appResp':
        this.handleAppendResponse(m);
        return;
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m);
        return;
      default:
        return; // a leader message at our term was refused as a violation in step()
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Follower side of replication

  private handleAppend(m: Message): void {
    assert(this.role === 'follower', `handleAppend in role ${this.role}: a leader's log is never truncated`);
    if (m.index < this.log.committed) {
      this.send(appendResponse(this.id, m.from, this.term, this.log.committed, false, 0, 0));
      return;
    }
    const before = this.log.committed;
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries, this.faultsOn);
    if (this.log.committed > before && this.onEvent !== undefined) this.emit({ kind: 'commit', index: this.log.committed });
    if (lastNew >= 0) {
      this.noteEntriesMembers(m.entries);
      this.send(appendResponse(this.id, m.from, this.term, lastNew, false, 0, 0));
      return;
    }
    // Fast backtracking: tell the leader the last index whose term is ≤ its prevLogTerm, so it can skip a whole term.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(appendResponse(this.id, m.from, this.term, m.index, true, hint.index, hint.term));
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends min(match, commit), so this holds unless its idea of our log is stale: a node
    // whose disk was wiped hearing from a stale leader. Clamping could commit entries the leader
    // never sent us, so such a commit is ignored (the appends that follow will sort it out).
    if (m.commit <= this.log.lastIndex()) this.commitTo(m.commit);
    this.send(makeMessage('heartbeatResp', this.id, m.from, this.term, { context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const meta = m.snapshot;
    if (meta === null) return;
    if (this.restore(meta)) {
      this.send(appendResponse(this.id, m.from, this.term, this.log.lastIndex(), false, 0, 0));
    } else {
      this.send(appendResponse(this.id, m.from, this.term, this.log.committed, false, 0, 0));
    }
  }

  /** Install `meta` unless our log already covers it; returns true when the log was replaced. */
  private restore(meta: SnapshotMeta): boolean {
    if (meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(meta.index, meta.term)) {
      this.commitTo(meta.index); // we already hold that entry: just fast-forward
      return false;
    }
    this.log.restore(meta);
    this.logMembers.clear();
    this.conf = meta.confState;
    this.confIndex = meta.index;
    this.bootstrapPending = false;
    if (this.onEvent !== undefined) this.emit({ kind: 'commit', index: meta.index });
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Leader side of replication

  private handleAppendResponse(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    this.heardFromFollower(pr);
    if (m.reject) {
      let next = m.rejectHint;
      if (m.logTerm > 0) next = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.maybeSendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    const updated = pr.maybeUpdate(Math.min(m.index, this.log.lastIndex()));
    if (!updated && !(pr.state === 'probe' && pr.match === m.index)) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot') {
      if (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
    } else {
      pr.inflights.freeLE(m.index);
    }
    if (updated && this.maybeCommit()) this.needBcast = true;
    else if (wasPaused) this.maybeSendAppend(m.from, true);
    for (let i = 0; i < this.maxInflight && this.maybeSendAppend(m.from, false); i++) {}
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    this.heardFromFollower(pr);
    pr.probeSent = false;
    // Appends may have been lost: free one slot so a stalled pipeline makes progress.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
    if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.maybeSendAppend(m.from, true);
    if (m.context !== '' && this.isVoter(m.from)) {
      const round = this.readOnly.recvAck(m.context, m.from, (acks) => hasQuorum(this.conf.voters, (id) => acks.has(id)), this.readStates);
      if (round !== null && !this.leaseBroken) {
        this.leaseStartAt = Math.max(this.leaseStartAt, round.sentAt);
        this.leaseStartTick = Math.max(this.leaseStartTick, round.startTick);
      }
    }
  }

  private heardFromFollower(pr: Progress): void {
    pr.recentActive = true;
    pr.lastAckAt = this.timing.clock();
  }

  /** Whether a quorum of voters (counting ourselves) answered us within `windowMs` (or since we took office or resumed). */
  private quorumHeardWithin(now: number, windowMs: number): boolean {
    const heard = committedIndex(
      this.conf.voters,
      (id) => (id === this.id ? now : Math.max(this.progress.get(id)?.lastAckAt ?? Number.NEGATIVE_INFINITY, this.contactFloor)),
      this.commitScratch,
    );
    return now - heard < windowMs;
  }

  /** Advance commit to what a majority of voters hold, if that entry is from our term (Figure 8 rule). */
  private maybeCommit(): boolean {
    const mci = committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0, this.commitScratch);
    if (mci <= this.log.committed) return false;
    if (this.log.termOrNeg(mci) !== this.term && this.faults.commitPreviousTermByCounting !== true) return false;
    this.commitTo(mci);
    this.releaseWaitingReads();
    return true;
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.termOrNeg(this.log.committed) === this.term;
  }

  private releaseWaitingReads(): void {
    if (this.readOnly.pending === 0 || !this.committedEntryInCurrentTerm()) return;
    for (const ctx of this.readOnly.takeWaiting()) this.readOnly.add(ctx, this.log.committed);
  }

  /** Send the next append to `to` if its progress allows; returns true when a message was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const log = this.log;
    const last = log.lastIndex();
    if (pr.next > last + 1) {
      this.invariant(false, `progress of ${to}: next ${pr.next} is past our last index ${last}`);
      pr.next = last + 1;
    }
    const prevIndex = pr.next - 1;
    const prevTerm = log.termOrNeg(prevIndex);
    if (prevTerm === TERM_COMPACTED) return this.sendSnapshot(to, pr);
    assert(prevTerm !== TERM_UNAVAILABLE, `term of ${prevIndex} unavailable while sending to ${to}`);
    let ents: readonly Entry[] = NO_ENTRIES;
    let bytes = 0;
    if (pr.next <= last) {
      if (pr.next < log.firstIndex()) return this.sendSnapshot(to, pr);
      ents = log.entries(pr.next, last + 1, this.maxMsgBytes);
      bytes = entriesBytes(ents);
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(appendMessage(this.id, to, this.term, prevIndex, prevTerm, ents, log.committed));
    pr.sentEntries(ents.length, prevIndex + ents.length, bytes);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const meta = this.log.unstable.snapshot ?? this.log.storage.snapshotMeta();
    assert(
      meta.index >= this.log.firstIndex() - 1,
      `snapshot ${meta.index} does not cover the compacted log (first index ${this.log.firstIndex()})`,
    );
    pr.becomeSnapshot(meta.index);
    this.send(
      makeMessage('snap', this.id, to, this.term, { index: meta.index, logTerm: meta.term, snapshot: meta, commit: this.log.committed }),
    );
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, true);
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send(makeMessage('heartbeat', this.id, id, this.term, { commit: Math.min(pr.match, this.log.committed), context }));
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.leaseBroken = true;
    this.leaseStartAt = Number.NEGATIVE_INFINITY;
    this.leaseStartTick = Number.NEGATIVE_INFINITY;
    this.send(makeMessage('timeoutNow', this.id, to, this.term));
  }

  // ---------------------------------------------------------------------------------------------
  // Client-facing inputs

  private requireLeader(): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
  }

  propose(commands: readonly Uint8Array[]): ProposeResult {
    this.requireLeader();
    if (this.leadTransferee !== '') throw new ProposalDroppedError(`leadership is being transferred to ${this.leadTransferee}`);
    const first = this.log.lastIndex() + 1;
    if (commands.length === 0) return { index: first, term: this.term };
    let bytes = 0;
    for (let i = 0; i < commands.length; i++) bytes += (commands[i] as Uint8Array).length;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.maxUncommittedBytes) {
      throw new ProposalDroppedError(
        `${this.uncommittedBytes} bytes of proposals are uncommitted; adding ${bytes} would exceed maxUncommittedBytes ${this.maxUncommittedBytes}`,
      );
    }
    const ents: Entry[] = new Array(commands.length);
    for (let i = 0; i < commands.length; i++)
      ents[i] = { index: first + i, term: this.term, type: 'normal', data: commands[i] as Uint8Array };
    this.log.append(ents);
    this.uncommittedBytes += bytes;
    this.needBcast = true;
    return { index: first, term: this.term };
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    this.requireLeader();
    if (this.leadTransferee !== '') throw new ProposalDroppedError(`leadership is being transferred to ${this.leadTransferee}`);
    if (this.pendingConfIndex > this.log.applied) throw new ConfChangeInProgressError(this.pendingConfIndex);
    validateConfChange(this.conf, change);
    if (change.type === 'removeNode' && change.nodeId === this.id) {
      throw new InvalidConfChangeError(`${this.id} is the leader: transfer leadership before removing it`);
    }
    const index = this.log.lastIndex() + 1;
    const entry: Entry = { index, term: this.term, type: 'conf', data: encodeConfChange(change) };
    this.log.append([entry]);
    this.noteEntriesMembers([entry]);
    this.pendingConfIndex = index;
    this.needBcast = true;
    return { index, term: this.term };
  }

  readIndex(ctx: string, mode: 'safe' | 'lease'): void {
    this.requireLeader();
    if (this.faults.readIndexWithoutQuorum === true) {
      this.pushReadState({ ctx, index: this.log.committed });
      return;
    }
    if (!this.committedEntryInCurrentTerm()) {
      // Our commit index may lag the true one until an entry of our term commits (Raft §6.4).
      this.readOnly.wait(ctx);
      return;
    }
    if (mode === 'lease' && this.leaseValid()) {
      this.pushReadState({ ctx, index: this.log.committed });
      return;
    }
    this.readOnly.add(ctx, this.log.committed);
  }

  private pushReadState(rs: ReadState): void {
    if (this.readStates.length >= MAX_READ_STATES)
      throw new ProposalDroppedError(`${MAX_READ_STATES} read answers are waiting for ready()`);
    this.readStates.push(rs);
  }

  /**
   * A quorum confirmed our leadership in a round sent less than timing.leaseMs ago, read on the clock
   * now (so a stall since then counts); with CheckQuorum on, each of those voters promised not to vote
   * for another candidate for an election timeout after it received that round (later than we sent
   * it), measured on its own clock, so no other leader can exist yet while clocks disagree on interval
   * lengths by less than maxClockDrift.
   */
  private leaseValid(): boolean {
    if (!this.checkQuorum || this.leaseBroken || this.leadTransferee !== '') return false;
    if (this.soleVoter()) return true;
    if (this.faults.tickLeases === true) return this.tickCount - this.leaseStartTick < this.electionTicks - 1;
    return this.timing.clock() - this.leaseStartAt < this.timing.leaseMs;
  }

  /** Start a heartbeat round to every member: its acknowledgements renew the lease and confirm any batched reads. */
  private heartbeatRound(): void {
    this.bcastHeartbeat(this.soleVoter() ? '' : this.readOnly.startRound(this.term, this.id, this.tickCount, this.timing.clock()));
  }

  /** We are the only voter: our own acknowledgement is a quorum (reads and the lease need no round). */
  private soleVoter(): boolean {
    return this.conf.voters.length === 1 && this.isVoter(this.id);
  }

  transferLeader(target: NodeId): void {
    this.requireLeader();
    if (target === this.id) return;
    if (!this.isVoter(target)) throw new GraftdError('GRAFTD_UNKNOWN_MEMBER', `cannot transfer leadership to ${target}: it is not a voter`);
    if (this.leadTransferee === target) return;
    this.leadTransferee = target;
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    const pr = this.progress.get(target) as Progress;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.maybeSendAppend(target, true);
  }

  reportUnreachable(id: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(id);
    if (pr === undefined || id === this.id) return;
    // A snapshot being streamed is left alone: reportSnapshot() tells how it ended.
    if (pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(id);
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (ok) pr.becomeProbe();
    else pr.snapshotFailed();
    // Wait for the follower's answer (or a heartbeat answer) before probing again.
    pr.probeSent = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Ready / advance

  /** Start the work that was batched until now: one append per follower for all new proposals, one heartbeat round for all new reads. */
  private flush(): void {
    if (this.role !== 'leader') return;
    if (this.needBcast) {
      this.needBcast = false;
      this.bcastAppend();
    }
    if (this.readOnly.hasBatch()) {
      if (this.soleVoter()) this.readOnly.answerBatch(this.readStates);
      else this.heartbeatRound();
    }
  }

  private softChanged(): boolean {
    const s = this.prevSoft;
    return s.role !== this.role || s.leader !== this.lead || s.term !== this.term;
  }

  private hardChanged(): boolean {
    const h = this.prevHard;
    return h.term !== this.term || h.vote !== this.vote || h.commit !== this.log.committed;
  }

  /** True when ready() has work. False while a Ready is outstanding (call advance() first). */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const u = this.log.unstable;
    return (
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      u.inProgress < u.entries.length ||
      (u.snapshot !== null && !u.snapshotInProgress) ||
      this.log.hasNextCommittedEntries() ||
      (this.role === 'leader' && (this.needBcast || this.readOnly.hasBatch())) ||
      this.softChanged() ||
      this.hardChanged()
    );
  }

  ready(): Ready {
    assert(this.outstanding === null, 'ready() called again before advance() of the previous Ready');
    this.flush();
    const log = this.log;
    const u = log.unstable;
    assert(log.committed <= log.lastIndex(), `commit ${log.committed} is beyond the last index ${log.lastIndex()}`);
    let softState: SoftState | null = null;
    if (this.softChanged()) {
      softState = { role: this.role, leader: this.lead, term: this.term };
      this.prevSoft = softState;
    }
    let hardState: HardState | null = null;
    if (this.hardChanged()) {
      assert(this.term >= this.prevHard.term, 'hard state term must never decrease');
      assert(log.committed >= this.prevHard.commit, `hard state commit must never decrease: ${this.prevHard.commit} -> ${log.committed}`);
      this.invariant(
        this.term !== this.prevHard.term || this.prevHard.vote === '' || this.vote === this.prevHard.vote,
        `vote changed within term ${this.term}: ${this.prevHard.vote} -> ${this.vote}`,
      );
      hardState = { term: this.term, vote: this.vote, commit: log.committed };
      this.prevHard = hardState;
    }
    let snapshot: SnapshotMeta | null = null;
    if (u.snapshot !== null && !u.snapshotInProgress) {
      snapshot = u.snapshot;
      u.snapshotInProgress = true;
    }
    const entries = u.takeForReady();
    const committedEntries = log.takeCommittedEntries(MAX_COMMITTED_BYTES_PER_READY);
    const messages = this.msgs;
    this.msgs = [];
    const readStates = this.readStates;
    this.readStates = [];
    const rd: Ready = { softState, hardState, entries, snapshot, messages, committedEntries, readStates };
    this.outstanding = rd;
    return rd;
  }

  advance(rd: Ready): void {
    assert(this.outstanding === rd, 'advance() must be given the Ready returned by the last ready()');
    this.outstanding = null;
    const log = this.log;
    if (rd.snapshot !== null) log.unstable.stableSnapTo(rd.snapshot.index);
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1] as Entry;
      log.unstable.stableTo(last.index, last.term);
      if (this.role === 'leader') {
        // Our own entries are durable now: count ourselves (we may have sent them before they were).
        const self = this.progress.get(this.id);
        if (self?.maybeUpdate(log.unstable.offset - 1) && this.maybeCommit()) this.needBcast = true;
      }
    }
    const committed = rd.committedEntries;
    if (committed.length > 0) {
      let appliedBytes = 0;
      for (let i = 0; i < committed.length; i++) {
        const e = committed[i] as Entry;
        if (e.type === 'conf') {
          if (e.index > this.confIndex) this.applyConfEntry(e);
        } else {
          appliedBytes += e.data.length;
        }
      }
      const lastIndex = (committed[committed.length - 1] as Entry).index;
      if (lastIndex > log.applied) log.appliedTo(lastIndex);
      if (this.logMembers.size > 0) for (const [id, index] of this.logMembers) if (index <= log.applied) this.logMembers.delete(id);
      if (this.role === 'leader') this.uncommittedBytes = Math.max(0, this.uncommittedBytes - appliedBytes);
    }
  }

  private applyConfEntry(e: Entry): void {
    let change: ConfChange;
    try {
      change = decodeConfChange(e.data);
    } catch {
      this.invariant(false, `undecodable conf entry at ${e.index}`);
      return;
    }
    const problem = confChangeProblem(this.conf, change);
    this.confIndex = e.index;
    // A rejoining founder replays the bootstrap entries one by one: until the last one is applied its
    // membership is a prefix of the founding one (after entry 1: itself alone, a majority of one).
    const founders = bootstrapSize(e.data);
    this.bootstrapPending = founders > 0 && e.index < founders;
    // One change at a time is enforced by the leader, so a committed change is valid when applied;
    // should it not be (e.g. an injected fault), it is skipped on every node alike.
    if (problem !== '') return;
    this.conf = applyConfChange(this.conf, change);
    if (this.onEvent !== undefined) this.emit({ kind: 'confChange', change, index: e.index });
    if (this.role !== 'leader') return;
    const id = change.nodeId;
    switch (change.type) {
      case 'addVoter':
      case 'addLearner': {
        const pr = this.newProgress(this.log.lastIndex() + 1, change.type === 'addLearner');
        pr.recentActive = true; // give it an election timeout to answer before CheckQuorum counts it
        pr.lastAckAt = this.timing.clock();
        this.progress.set(id, pr);
        break;
      }
      case 'promoteLearner': {
        const pr = this.progress.get(id);
        if (pr !== undefined) {
          pr.isLearner = false;
          pr.recentActive = true;
          pr.lastAckAt = this.timing.clock();
        }
        break;
      }
      case 'removeNode':
        this.progress.delete(id);
        if (id === this.leadTransferee) this.leadTransferee = '';
        if (id === this.id) this.handOffAfterRemoval();
        break;
    }
    if (this.role === 'leader' && this.maybeCommit()) this.needBcast = true;
  }

  /**
   * We applied our own removal. Stepping down at once could deadlock the rest: they may not yet know
   * that the removal committed (so they still need our vote), while our log is longer than theirs
   * (so we refuse it). Instead keep leading without counting ourselves, accept no proposals, catch up
   * the most up-to-date remaining voter and hand leadership to it (TimeoutNow), retrying every
   * election timeout; step down when it takes over (higher term) or CheckQuorum fails.
   * proposeConfChange refuses to remove the leader itself, so this only happens when a new leader
   * commits a removal of itself proposed by its predecessor.
   */
  private handOffAfterRemoval(): void {
    let best = '';
    let bestMatch = -1;
    for (const id of this.conf.voters) {
      const pr = this.progress.get(id);
      if (pr !== undefined && pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    if (best === '') {
      this.becomeFollower(this.term, '', 'removed from the configuration, no voter to hand leadership to');
      return;
    }
    this.leadTransferee = best;
    this.electionElapsed = 0;
    if (bestMatch === this.log.lastIndex()) this.sendTimeoutNow(best);
    else this.maybeSendAppend(best, true);
  }

  // ---------------------------------------------------------------------------------------------
  // Views

  status(): RaftStatus {
    const progress: Record<NodeId, ProgressView> = {};
    if (this.role === 'leader') for (const [id, pr] of this.progress) progress[id] = pr.view();
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      snapshotIndex: this.log.unstable.snapshot?.index ?? this.log.storage.snapshotMeta().index,
      confState: this.conf,
      progress,
      leadTransferee: this.leadTransferee,
      pendingConfIndex: this.pendingConfIndex,
    };
  }

  confState(): ConfState {
    return this.conf;
  }
}

/** Create a consensus core over `storage` (which must hold what the runtime persisted so far). */
export const createRaft: CreateRaft = (config, storage) => new Raft(config, storage);
