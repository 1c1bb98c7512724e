/**
 * graftd's server node: the generic raft node (runtime.ts) running the key-value state machine
 * (src/kv/state-machine.ts), seen through the HTTP layer's GraftNode contract (api.ts).
 *
 * Why an adapter: the HTTP API speaks keys, ranges, transactions and leases; the raft node speaks
 * command bytes and read functions. This file is the whole translation — writes encode a command
 * and turn its apply result into the API's answer (or coded error), reads are functions against the
 * store — plus the lessor's timer (kv-lessor.ts), and passes lifecycle and metrics calls through
 * for the command line.
 */
import { GraftdError } from '../errors.ts';
import {
  type KvApplyResult,
  KvStore,
  encodeCommand,
  encodeLeaseGrant,
  encodeLeaseKeepAlive,
  encodeLeaseRevoke,
  encodeTxn,
  writeSnapshot,
} from '../kv/index.ts';
import { KvStateMachine } from '../kv/state-machine.ts';
import {
  type KeyValue,
  type LeaseGrant,
  type LeaseInfo,
  type LeaseRevokeResult,
  MAX_LEASE_KEYS_LISTED,
  MAX_LEASE_TTL_SECONDS,
  MAX_RANGE_LIMIT,
  type RangeRequest,
  type RangeResult,
  type TxnRequest,
  type TxnResult,
  formatLeaseId,
  parseLeaseId,
} from '../kv/types.ts';
import type { ViolationReason } from '../raft/admission.ts';
import type { NodeId } from '../raft/types.ts';
import type { PeerSecurity } from '../transport/types.ts';
import type {
  ChangeSource,
  GraftNode,
  JoinRequest,
  Leadership,
  MemberView,
  NodeEvent,
  NodeStatus,
  OpsCounters,
  PeerLinkView,
  ReadLevel,
  SecurityCounters,
} from './api.ts';
import { minLeaseTtlSeconds } from './config.ts';
import { KvLessor } from './kv-lessor.ts';
import { RaftRuntime, type RuntimeParts } from './runtime.ts';
import { staleCompareTxn } from './stale-compare-fault.ts';

/** Runtime parts with the key-value store as the state (tests build a node from these). */
export type GraftdParts = Omit<RuntimeParts<KvStateMachine>, 'stateMachine'> & {
  /** The store, restored from the snapshot at `applied` (default: empty). */
  readonly kv?: KvStore;
};

/** A graftd node: implements {@link GraftNode} for the HTTP layer, plus lifecycle methods for the command line. */
export class GraftdRuntime implements GraftNode {
  /** The generic node underneath. */
  readonly raft: RaftRuntime<KvStateMachine>;
  readonly id: NodeId;
  readonly clusterId: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  /** set()/del() on a follower forward to the leader over the raft transport (see GraftNode). */
  readonly forwardsWrites = true;
  /** Linearizable and lease reads on a follower ask the leader for a read index over the raft transport (see GraftNode). */
  readonly forwardsReads = true;
  readonly #store: KvStore;
  readonly #lessor: KvLessor;
  #lessorTimer: NodeJS.Timeout | undefined;

  /** Wrap an opened raft node (open.ts), or build one from `parts` (tests). */
  constructor(from: RaftRuntime<KvStateMachine> | GraftdParts) {
    this.raft =
      from instanceof RaftRuntime
        ? from
        : (() => {
            const { kv, ...rest } = from;
            return new RaftRuntime<KvStateMachine>({ ...rest, stateMachine: new KvStateMachine(kv ?? new KvStore()) });
          })();
    this.#store = this.raft.stateMachine.store;
    this.id = this.raft.id;
    this.clusterId = this.raft.clusterId;
    this.raftAddr = this.raft.raftAddr;
    this.httpAddr = this.raft.httpAddr;
    this.#lessor = new KvLessor({
      store: this.#store,
      now: () => performance.now(),
      leaderTerm: () => {
        const st = this.raft.status();
        return st.role === 'leader' ? st.term : undefined;
      },
      propose: (command) => this.raft.propose(command),
      log: this.raft.log,
    });
  }

  // ---------------------------------------------------------------- GraftNode

  async set(pairs: Readonly<Record<string, string>>): Promise<number> {
    return (await this.raft.propose(encodeCommand({ op: 'set', pairs }))).revision;
  }

  async del(keys: readonly string[]): Promise<number> {
    return (await this.raft.propose(encodeCommand({ op: 'del', keys }))).revision;
  }

  get(key: string, level: ReadLevel): Promise<string | undefined> {
    return this.raft.read(level, (sm) => sm.store.get(key));
  }

  getMeta(key: string, level: ReadLevel): Promise<{ readonly kv: KeyValue | undefined; readonly revision: number }> {
    return this.raft.read(level, (sm) => ({ kv: sm.store.keyValue(key), revision: sm.store.revision }));
  }

  range(request: RangeRequest, level: ReadLevel): Promise<RangeResult> {
    const limit = request.limit;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RANGE_LIMIT))
      throw new GraftdError('GRAFTD_INVALID_BODY', `limit must be an integer from 1 to ${MAX_RANGE_LIMIT}, found ${limit}`);
    return this.raft.read(level, (sm) => sm.store.range(request));
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    // GRAFTD_TEST_FAULT=stale-compare (chaos tests only): decide the branch on local state now and
    // propose it unconditionally — the lost-update bug the checker must catch.
    const faulty = this.raft.config.testFault === 'stale-compare' ? staleCompareTxn(this.#store, request) : undefined;
    const r = checked(await this.raft.propose(encodeTxn(faulty?.request ?? request)));
    return { succeeded: faulty?.succeeded ?? r.succeeded === true, revision: r.revision, results: r.results ?? [] };
  }

  async leaseGrant(ttlSeconds: number): Promise<LeaseGrant> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LEASE_TTL_SECONDS)
      throw new GraftdError(
        'GRAFTD_INVALID_BODY',
        `ttl must be a whole number of seconds from 1 to ${MAX_LEASE_TTL_SECONDS}, found ${ttlSeconds}`,
      );
    const ttl = Math.max(ttlSeconds, minLeaseTtlSeconds(this.raft.config));
    return leaseOf(checked(await this.raft.propose(encodeLeaseGrant(ttl))));
  }

  async leaseKeepAlive(id: string): Promise<LeaseGrant> {
    return leaseOf(checked(await this.raft.propose(encodeLeaseKeepAlive(leaseNumber(id)))));
  }

  async leaseRevoke(id: string): Promise<LeaseRevokeResult> {
    const r = checked(await this.raft.propose(encodeLeaseRevoke(leaseNumber(id))));
    return { revision: r.revision, deleted: r.deleted ?? 0 };
  }

  async leaseGet(id: string, level: ReadLevel): Promise<LeaseInfo & { readonly revision: number }> {
    const n = leaseNumber(id);
    const found = await this.raft.read(level, (sm) => {
      const lease = sm.store.leases.get(n);
      if (lease === undefined) return undefined;
      const keys = [...lease.keys].sort();
      const info = this.#leaseInfo(n, lease.ttl, keys.slice(0, MAX_LEASE_KEYS_LISTED), keys.length > MAX_LEASE_KEYS_LISTED);
      return { ...info, revision: sm.store.revision };
    });
    if (found === undefined) throw new GraftdError('GRAFTD_LEASE_NOT_FOUND', `lease ${id} not found (never granted, revoked or expired)`);
    return found;
  }

  leaseList(level: ReadLevel): Promise<{ readonly revision: number; readonly leases: readonly LeaseInfo[] }> {
    return this.raft.read(level, (sm) => {
      const leases = [...sm.store.leases.values()].sort((a, b) => a.id - b.id).map((l) => this.#leaseInfo(l.id, l.ttl, [], false));
      return { revision: sm.store.revision, leases };
    });
  }

  changes(): ChangeSource {
    return changeSourceOf(this.#store);
  }

  #leaseInfo(id: number, ttl: number, keys: readonly string[], moreKeys: boolean): LeaseInfo {
    // Not seen by the lessor yet (granted since its last check): a full TTL is left.
    return { id: formatLeaseId(id), ttl, remaining: this.#lessor.remaining(id) ?? ttl, keys, moreKeys };
  }

  /** A linearizable copy of the store (leader only), in the kv snapshot format. */
  backup(): Promise<AsyncIterable<Uint8Array>> {
    return this.raft.readOnLeader((sm) => writeSnapshot(sm.store));
  }

  join(request: JoinRequest): Promise<void> {
    return this.raft.join(request);
  }

  remove(id: NodeId): Promise<void> {
    return this.raft.remove(id);
  }

  transferLeader(id?: NodeId): Promise<NodeId> {
    return this.raft.transferLeader(id);
  }

  status(): NodeStatus {
    const { state: _state, ...st } = this.raft.status();
    return { ...st, keys: this.#store.size, revision: this.#store.revision };
  }

  leadership(): Leadership {
    return this.raft.leadership();
  }

  isReady(): boolean {
    return this.raft.isReady();
  }

  /** Resolves once isReady() holds (RaftNode.whenReady). */
  whenReady(timeoutMs?: number): Promise<void> {
    return this.raft.whenReady(timeoutMs);
  }

  onRaftEvent(listener: (event: NodeEvent) => void): () => void {
    return this.raft.onEvent(listener);
  }

  securityCounters(): SecurityCounters {
    return this.raft.metrics.securityCounters();
  }

  diskFullEvents(): number {
    return this.raft.metrics.diskFullEvents();
  }

  opsCounters(): OpsCounters {
    return this.raft.metrics.opsCounters();
  }

  onWalSync(fn: (seconds: number) => void): () => void {
    return this.raft.metrics.onWalSync(fn);
  }

  peerLinks(): Record<NodeId, PeerLinkView> {
    return this.raft.metrics.peerLinks();
  }

  dataDirBytes(): Promise<number> {
    return this.raft.metrics.dataDirBytes();
  }

  // ---------------------------------------------------------------- lifecycle (command line)

  async start(): Promise<void> {
    await this.raft.start();
    this.#lessorTimer ??= setInterval(() => this.#lessor.check(), this.raft.config.leaseCheckIntervalMs);
    this.#lessorTimer.unref();
  }

  setSeedPeers(members: readonly MemberView[]): void {
    this.raft.setSeedPeers(members);
  }

  whenRemoved(): Promise<void> {
    return this.raft.whenRemoved();
  }

  get removed(): boolean {
    return this.raft.removed;
  }

  prepareShutdown(): Promise<void> {
    return this.raft.prepareShutdown();
  }

  close(): Promise<void> {
    clearInterval(this.#lessorTimer);
    return this.raft.close();
  }

  updatePeerSecurity(security: PeerSecurity): void {
    this.raft.updatePeerSecurity(security);
  }

  protocolViolations(): Readonly<Partial<Record<ViolationReason, number>>> {
    return this.raft.metrics.protocolViolations();
  }
}

/** The apply result, or its refusal as the coded error (nothing was changed). */
function checked(result: KvApplyResult): KvApplyResult {
  if (result.error !== undefined) throw new GraftdError(result.error.code, result.error.message);
  return result;
}

function leaseOf(result: KvApplyResult): LeaseGrant {
  if (result.lease === undefined) throw new GraftdError('GRAFTD_INTERNAL', 'a lease command applied without a lease in its result');
  return result.lease;
}

function leaseNumber(id: string): number {
  const n = parseLeaseId(id);
  if (n === undefined || n === 0)
    throw new GraftdError('GRAFTD_INVALID_BODY', `a lease id is lower-case hex, found ${JSON.stringify(id).slice(0, 40)}`);
  return n;
}

/** A store's applied changes as a watch source (the live store: its history and change listeners). */
export function changeSourceOf(store: KvStore): ChangeSource {
  return {
    get revision() {
      return store.revision;
    },
    get oldest() {
      return store.history.oldest;
    },
    since: (from) => store.history.since(from),
    onChange: (listener) => store.onChange(listener),
  };
}
