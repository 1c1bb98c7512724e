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
 */
import { GraftdError, NotLeaderError } from '../../src/errors.ts';
import type { GraftNode, JoinRequest, MemberView, NodeStatus, ReadLevel } from '../../src/node/api.ts';
import type { RaftEvent } from '../../src/raft/types.ts';

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
  readonly data = new Map<string, string>();
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

  async set(pairs: Readonly<Record<string, string>>): Promise<void> {
    await this.#write('set', [pairs], (n) => {
      for (const [k, v] of Object.entries(pairs)) n.data.set(k, v);
    });
  }

  async del(keys: readonly string[]): Promise<void> {
    await this.#write('del', [keys], (n) => {
      for (const k of keys) n.data.delete(k);
    });
  }

  /** A write here (leader), or forwarded to the leader, which proposes it as its own (never forwards it again) and answers once applied. */
  async #write(method: string, args: readonly unknown[], apply: (n: FakeNode) => void): Promise<void> {
    const leader = this.#forwardTarget();
    if (leader !== undefined) {
      this.calls.push({ method, args });
      await this.#gate(method);
      await leader.#leaderOnly(method, args);
      apply(leader);
      leader.#applied++;
    } else await this.#leaderOnly(method, args);
    apply(this); // on a follower: replicated at once
    this.#applied++;
  }

  async get(key: string, level: ReadLevel): Promise<string | undefined> {
    if (level === 'stale') {
      this.calls.push({ method: 'get', args: [key, level] });
      return this.data.get(key);
    }
    const leader = this.#forwardTarget();
    if (leader !== undefined) {
      // Follower read: the leader confirms its leadership (a read index), then this node serves
      // from its own state, which the fake keeps in step with the leader's at once.
      this.calls.push({ method: 'get', args: [key, level] });
      await this.#gate('get');
      await leader.#leaderOnly('get', [key, level]);
    } else await this.#leaderOnly('get', [key, level]);
    return this.data.get(key);
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
    const entries = [...this.data.entries()];
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
      keys: this.data.size,
      fault: '',
    };
  }

  isReady(): boolean {
    return this.ready;
  }

  onRaftEvent(_listener: (event: RaftEvent) => void): () => void {
    return () => {};
  }
}
