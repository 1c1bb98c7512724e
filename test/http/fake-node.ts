/**
 * An honest in-memory GraftNode for HTTP tests: a Map for data, a configurable role, and
 * switches to make calls fail or hang.
 *
 * Why: the HTTP layer is tested alone, without raft; the fake keeps the real contract
 * (leader-only methods throw NotLeaderError on a follower, stale reads work anywhere).
 */
import { GraftdError, NotLeaderError } from '../../src/errors.ts';
import type { GraftNode, JoinRequest, MemberView, NodeStatus, ReadLevel } from '../../src/node/api.ts';
import type { RaftEvent } from '../../src/raft/types.ts';

export interface FakeNodeOptions {
  readonly id?: string;
  readonly role?: 'leader' | 'follower';
  readonly leaderId?: string;
  readonly leaderHttpAddr?: string;
}

/** A recorded call on the fake. */
export interface FakeCall {
  readonly method: string;
  readonly args: readonly unknown[];
}

export class FakeNode implements GraftNode {
  readonly id: string;
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
  }

  /** Settle every hung call with a TimeoutError (as the runtime's request timeout would). */
  releaseHung(): void {
    for (const release of this.#hung.splice(0)) release();
  }

  async #leaderOnly(method: string, args: readonly unknown[]): Promise<void> {
    this.calls.push({ method, args });
    if (this.role !== 'leader') throw new NotLeaderError(this.leaderId);
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
    await this.#leaderOnly('set', [pairs]);
    for (const [k, v] of Object.entries(pairs)) this.data.set(k, v);
    this.#applied++;
  }

  async del(keys: readonly string[]): Promise<void> {
    await this.#leaderOnly('del', [keys]);
    for (const k of keys) this.data.delete(k);
    this.#applied++;
  }

  async get(key: string, level: ReadLevel): Promise<string | undefined> {
    if (level === 'stale') this.calls.push({ method: 'get', args: [key, level] });
    else await this.#leaderOnly('get', [key, level]);
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
