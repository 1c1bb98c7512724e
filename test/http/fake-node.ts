/**
 * An honest in-memory GraftNode for HTTP tests: a Map for data, a configurable role, and
 * switches to make calls fail or hang.
 *
 * Why: the HTTP layer is tested alone, without raft; the fake keeps the real contract. Like the
 * real node (src/node/graftd-node.ts: forwardsWrites, forwardsReads) a follower forwards writes
 * and linearizable/lease reads to its leader itself — here to the FakeNode given as `leader`,
 * standing for the raft transport — and the HTTP layer calls it directly; no leader → NotLeaderError
 * (503), a leader id without a link → GRAFTD_NO_LEADER (not sent), the leader's errors pass
 * through. `forwards: false` makes a GraftNode that does not forward (leader-only methods throw
 * NotLeaderError on a follower), the path the HTTP relay (src/http/leader-relay.ts) serves.
 *
 * The data is the real state machine (src/kv/store.ts): every write is encoded as the command the
 * runtime proposes and applied to this node's KvStore (and, when forwarded, the leader's first), so
 * revisions, conditions, transactions and leases behave as on a node. Leases never expire by
 * themselves here (`expireLease` revokes one as the leader's lessor would); `remaining` counts
 * down from the last grant or keepalive on this fake's clock.
 */
import { GraftdError, NotLeaderError } from '../../src/errors.ts';
import { encodeCommand } from '../../src/kv/command.ts';
import { type KvApplyResult, KvStore } from '../../src/kv/store.ts';
import { encodeLeaseGrant, encodeLeaseKeepAlive, encodeLeaseRevoke, encodeTxn } from '../../src/kv/txn-command.ts';
import {
  formatLeaseId,
  type KeyValue,
  type LeaseGrant,
  type LeaseInfo,
  type LeaseRevokeResult,
  MAX_LEASE_KEYS_LISTED,
  MAX_RANGE_LIMIT,
  parseLeaseId,
  type RangeRequest,
  type RangeResult,
  type TxnRequest,
  type TxnResult,
} from '../../src/kv/types.ts';
import type { GraftNode, JoinRequest, Leadership, MemberView, NodeStatus, ReadLevel } from '../../src/node/api.ts';
import type { RaftEvent } from '../../src/raft/types.ts';

/**
 * The fake's data as a Map of key → value over its KvStore (tests seed and inspect it like a Map);
 * set and delete apply real commands, so revisions move as on a node.
 */
export class FakeData {
  readonly #node: FakeNode;
  constructor(node: FakeNode) {
    this.#node = node;
  }
  get(key: string): string | undefined {
    return this.#node.store.get(key);
  }
  has(key: string): boolean {
    return this.#node.store.get(key) !== undefined;
  }
  set(key: string, value: string): this {
    this.#node.applyLocal(encodeCommand({ op: 'set', pairs: { [key]: value } }));
    return this;
  }
  delete(key: string): boolean {
    const had = this.has(key);
    this.#node.applyLocal(encodeCommand({ op: 'del', keys: [key] }));
    return had;
  }
  get size(): number {
    return this.#node.store.size;
  }
  entries(): IterableIterator<[string, string]> {
    return this.#node.store.entries();
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

export interface FakeNodeOptions {
  readonly id?: string;
  readonly role?: 'leader' | 'follower';
  readonly leaderId?: string;
  readonly leaderHttpAddr?: string;
  /** The leader a follower forwards to (instead of the raft transport). */
  readonly leader?: FakeNode;
  /** Forward writes and reads from a follower like the real node. Default true. */
  readonly forwards?: boolean;
}

/** A recorded call on the fake. */
export interface FakeCall {
  readonly method: string;
  readonly args: readonly unknown[];
}

export class FakeNode implements GraftNode {
  readonly id: string;
  readonly forwardsWrites: boolean;
  readonly forwardsReads: boolean;
  /** The leader this node forwards to while it is a follower (undefined: it cannot reach one). */
  leader: FakeNode | undefined;
  readonly store = new KvStore();
  readonly data = new FakeData(this);
  /** Grants below this many seconds are raised to it (like the runtime's minimum TTL). */
  minLeaseTtl = 5;
  /** Lease id → Date.now() of its grant or latest keepalive on this node. */
  readonly #renewedMs = new Map<number, number>();
  readonly calls: FakeCall[] = [];
  role: 'leader' | 'follower';
  leaderId: string;
  leaderHttpAddr: string;
  ready = true;
  /** When set, status() reports this role instead of `role` (leadership changing between status() and a call). */
  reportedRole: 'leader' | 'follower' | undefined;
  term = 3;
  members: MemberView[] = [];
  /** When set, the next leader-only call rejects with it (then it is cleared). */
  failNext: Error | undefined;
  /** When true, leader-only calls never settle (until `releaseHung`). */
  hang = false;
  readonly #hung: (() => void)[] = [];
  #applied = 0;

  constructor(opts: FakeNodeOptions = {}) {
    this.id = opts.id ?? 'node0';
    this.role = opts.role ?? 'leader';
    this.leaderId = opts.leaderId ?? (this.role === 'leader' ? this.id : '');
    this.leaderHttpAddr = opts.leaderHttpAddr ?? '';
    this.leader = opts.leader;
    this.forwardsWrites = opts.forwards ?? true;
    this.forwardsReads = this.forwardsWrites;
  }

  /** Settle every hung call with a TimeoutError (as the runtime's request timeout would). */
  releaseHung(): void {
    for (const release of this.#hung.splice(0)) release();
  }

  /**
   * A follower that forwards: the leader this call goes to, or the error of a forward that could
   * not be sent (as src/node/forwarder.ts raises them). Undefined: run the call here.
   */
  #forwardTarget(): FakeNode | undefined {
    if (this.role === 'leader' || !this.forwardsWrites) return undefined;
    if (this.leaderId === '' || this.leaderId === this.id) throw new NotLeaderError('');
    const leader = this.leader;
    if (leader === undefined || leader.id !== this.leaderId)
      throw new GraftdError('GRAFTD_NO_LEADER', `could not forward to the leader ${this.leaderId} (no connection); not sent, retry`);
    return leader;
  }

  async #leaderOnly(method: string, args: readonly unknown[]): Promise<void> {
    this.calls.push({ method, args });
    if (this.role !== 'leader') throw new NotLeaderError(this.leaderId);
    await this.#gate(method);
  }

  /** The failNext / hang switches. */
  async #gate(method: string): Promise<void> {
    const fail = this.failNext;
    if (fail !== undefined) {
      this.failNext = undefined;
      throw fail;
    }
    if (this.hang) {
      await new Promise<void>((_resolve, reject) => {
        this.#hung.push(() => reject(new GraftdError('GRAFTD_TIMEOUT', `${method} timed out`)));
      });
    }
  }

  /** Apply a command to this node's store as the next log entry (seeding, and replication in the fake). */
  applyLocal(data: Uint8Array): KvApplyResult {
    this.#applied++;
    const result = this.store.apply(data, this.#applied);
    if (result.lease !== undefined) this.#renewedMs.set(parseLeaseId(result.lease.id) ?? 0, Date.now());
    return result;
  }

  async set(pairs: Readonly<Record<string, string>>): Promise<number> {
    return (await this.#write('set', [pairs], encodeCommand({ op: 'set', pairs }))).revision;
  }

  async del(keys: readonly string[]): Promise<number> {
    return (await this.#write('del', [keys], encodeCommand({ op: 'del', keys }))).revision;
  }

  /**
   * A write here (leader), or forwarded to the leader, which proposes it as its own (never forwards
   * it again) and answers once applied; a follower then applies it too (replicated at once). A
   * refusal the state machine reports (a missing lease) is thrown, as the runtime does.
   */
  async #write(method: string, args: readonly unknown[], command: Uint8Array): Promise<KvApplyResult> {
    const leader = this.#forwardTarget();
    if (leader !== undefined) {
      this.calls.push({ method, args });
      await this.#gate(method);
      await leader.#leaderOnly(method, args);
      leader.applyLocal(command);
    } else await this.#leaderOnly(method, args);
    const result = this.applyLocal(command);
    if (result.error !== undefined) throw new GraftdError(result.error.code, result.error.message);
    return result;
  }

  /** The leader-only part of a linearizable/lease read (stale: none); recorded as `method`. */
  async #read(method: string, args: readonly unknown[], level: ReadLevel): Promise<void> {
    if (level === 'stale') {
      this.calls.push({ method, args });
      return;
    }
    const leader = this.#forwardTarget();
    if (leader !== undefined) {
      // Follower read: the leader confirms its leadership (a read index), then this node serves
      // from its own state, which the fake keeps in step with the leader's at once.
      this.calls.push({ method, args });
      await this.#gate(method);
      await leader.#leaderOnly(method, args);
    } else await this.#leaderOnly(method, args);
  }

  async get(key: string, level: ReadLevel): Promise<string | undefined> {
    await this.#read('get', [key, level], level);
    return this.store.get(key);
  }

  async getMeta(key: string, level: ReadLevel): Promise<{ kv: KeyValue | undefined; revision: number }> {
    await this.#read('getMeta', [key, level], level);
    return { kv: this.store.keyValue(key), revision: this.store.revision };
  }

  async range(request: RangeRequest, level: ReadLevel): Promise<RangeResult> {
    const limit = request.limit;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RANGE_LIMIT))
      throw new GraftdError('GRAFTD_INVALID_BODY', `limit must be from 1 to ${MAX_RANGE_LIMIT}, found ${limit}`);
    await this.#read('range', [request, level], level);
    return this.store.range(request);
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    const result = await this.#write('txn', [request], encodeTxn(request));
    return { succeeded: result.succeeded ?? false, revision: result.revision, results: result.results ?? [] };
  }

  async leaseGrant(ttlSeconds: number): Promise<LeaseGrant> {
    const ttl = Math.max(ttlSeconds, this.minLeaseTtl);
    const result = await this.#write('leaseGrant', [ttlSeconds], encodeLeaseGrant(ttl));
    return result.lease!;
  }

  async leaseKeepAlive(id: string): Promise<LeaseGrant> {
    const result = await this.#write('leaseKeepAlive', [id], encodeLeaseKeepAlive(leaseNumber(id)));
    return result.lease!;
  }

  async leaseRevoke(id: string): Promise<LeaseRevokeResult> {
    const result = await this.#write('leaseRevoke', [id], encodeLeaseRevoke(leaseNumber(id)));
    return { revision: result.revision, deleted: result.deleted ?? 0 };
  }

  /** Revoke a lease as the leader's lessor does when it expires (on this node only; no call recorded). */
  expireLease(id: string): LeaseRevokeResult {
    const result = this.applyLocal(encodeLeaseRevoke(leaseNumber(id)));
    return { revision: result.revision, deleted: result.deleted ?? 0 };
  }

  #leaseInfo(n: number, withKeys: boolean): LeaseInfo | undefined {
    const lease = this.store.leases.get(n);
    if (lease === undefined) return undefined;
    const since = (Date.now() - (this.#renewedMs.get(n) ?? Date.now())) / 1000;
    const keys = withKeys ? [...lease.keys].sort() : [];
    return {
      id: formatLeaseId(n),
      ttl: lease.ttl,
      remaining: Math.max(0, lease.ttl - since),
      keys: keys.slice(0, MAX_LEASE_KEYS_LISTED),
      moreKeys: keys.length > MAX_LEASE_KEYS_LISTED,
    };
  }

  async leaseGet(id: string, level: ReadLevel): Promise<LeaseInfo & { revision: number }> {
    await this.#read('leaseGet', [id, level], level);
    const info = this.#leaseInfo(leaseNumber(id), true);
    if (info === undefined) throw new GraftdError('GRAFTD_LEASE_NOT_FOUND', `lease ${id} not found`);
    return { ...info, revision: this.store.revision };
  }

  async leaseList(level: ReadLevel): Promise<{ revision: number; leases: LeaseInfo[] }> {
    await this.#read('leaseList', [level], level);
    const ids = [...this.store.leases.keys()].sort((a, b) => a - b);
    return { revision: this.store.revision, leases: ids.map((n) => this.#leaseInfo(n, false)!) };
  }

  async join(request: JoinRequest): Promise<void> {
    await this.#leaderOnly('join', [request]);
    this.members = [
      ...this.members.filter((m) => m.id !== request.id),
      { id: request.id, raftAddr: request.raftAddr, httpAddr: request.httpAddr, voter: request.voter },
    ];
  }

  async remove(id: string): Promise<void> {
    await this.#leaderOnly('remove', [id]);
    if (!this.members.some((m) => m.id === id)) throw new GraftdError('GRAFTD_UNKNOWN_MEMBER', `no member ${id}`);
    this.members = this.members.filter((m) => m.id !== id);
  }

  async transferLeader(id?: string): Promise<string> {
    await this.#leaderOnly('transferLeader', [id]);
    return id ?? 'node1';
  }

  async backup(): Promise<AsyncIterable<Uint8Array>> {
    const entries = [...this.store.entries()];
    return (async function* () {
      for (const [k, v] of entries) yield Buffer.from(`${JSON.stringify([k, v])}\n`);
    })();
  }

  status(): NodeStatus {
    return {
      id: this.id,
      role: this.reportedRole ?? this.role,
      term: this.term,
      leaderId: this.leaderId,
      leaderHttpAddr: this.leaderHttpAddr,
      raftAddr: '127.0.0.41:18100',
      httpAddr: '127.0.0.41:18000',
      commitIndex: this.#applied,
      appliedIndex: this.#applied,
      lastIndex: this.#applied,
      snapshotIndex: 0,
      members: this.members,
      progress: {},
      keys: this.store.size,
      revision: this.store.revision,
      fault: '',
    };
  }

  leadership(): Leadership {
    return { isLeader: (this.reportedRole ?? this.role) === 'leader', leaderId: this.leaderId };
  }

  isReady(): boolean {
    return this.ready;
  }

  onRaftEvent(_listener: (event: RaftEvent) => void): () => void {
    return () => {};
  }
}

function leaseNumber(id: string): number {
  const n = parseLeaseId(id);
  if (n === undefined || n === 0) throw new GraftdError('GRAFTD_INVALID_BODY', `not a lease id: ${JSON.stringify(id)}`);
  return n;
}
