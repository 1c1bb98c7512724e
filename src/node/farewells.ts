/**
 * Telling a removed member that its removal committed.
 *
 * Why: the core stops talking to a member the moment its removal is applied, so the member may
 * never learn that the removal committed and would linger, neither member nor gone. The leader
 * keeps it as a transport peer for a short while and sends it empty appends anchored at the
 * removal entry (index, term) with that index as commit. Safe by log matching: a member that
 * holds that entry holds the same prefix, all of it committed; one that does not rejects the
 * append and nothing changes. Bounded: one entry per removed member, dropped after `ttlMs`.
 */
import { decodeConfChange } from '../raft/index.ts';
import type { Entry, Message, NodeId } from '../raft/types.ts';

interface Farewell {
  readonly raftAddr: string;
  readonly index: number;
  readonly term: number;
  readonly untilMs: number;
}

/** Members removed recently, to be told so until `ttlMs` has passed. */
export class Farewells {
  readonly #byId = new Map<NodeId, Farewell>();
  readonly #selfId: NodeId;
  readonly #ttlMs: number;

  constructor(selfId: NodeId, ttlMs: number) {
    this.#selfId = selfId;
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** A committed conf entry is being applied on the leader; remember it if it removes another member reachable at `addrOf(id)`. */
  note(e: Entry, addrOf: (id: NodeId) => string, nowMs: number): void {
    let nodeId: NodeId;
    try {
      const change = decodeConfChange(e.data);
      if (change.type !== 'removeNode') return;
      nodeId = change.nodeId;
    } catch {
      return;
    }
    const raftAddr = addrOf(nodeId);
    if (nodeId === this.#selfId || raftAddr === '') return;
    this.#byId.set(nodeId, { raftAddr, index: e.index, term: e.term, untilMs: nowMs + this.#ttlMs });
  }

  /**
   * The messages to send now (term = the leader's current term). Entries expire after the TTL,
   * when this node is no longer leader, or when the id is a member again (re-added at a new address).
   * Returns whether any entry was dropped (the caller then re-syncs its peers).
   */
  due(nowMs: number, term: number, stillLeader: boolean, isMember: (id: NodeId) => boolean): { messages: Message[]; dropped: boolean } {
    const messages: Message[] = [];
    let dropped = false;
    for (const [id, f] of this.#byId) {
      if (f.untilMs <= nowMs || !stillLeader || isMember(id)) {
        this.#byId.delete(id);
        dropped = true;
        continue;
      }
      messages.push({
        type: 'app',
        from: this.#selfId,
        to: id,
        term,
        logTerm: f.term,
        index: f.index,
        entries: [],
        commit: f.index,
        reject: false,
        rejectHint: 0,
        context: '',
        snapshot: null,
      });
    }
    return { messages, dropped };
  }

  /** Peers to keep connected meanwhile: id → raft address. */
  peers(): [NodeId, string][] {
    return [...this.#byId].map(([id, f]) => [id, f.raftAddr]);
  }
}
