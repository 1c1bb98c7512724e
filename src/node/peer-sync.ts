/**
 * Who the transport talks to: the members of the applied configuration (decoded once per
 * configuration), the seed list before this node has applied any, and members removed a moment
 * ago that are still being told of their removal (farewells.ts).
 *
 * Why separate: the runtime only says "the configuration may have changed" or "a tick passed";
 * keeping the cache, the seed fallback and the transport's peer set equal to them is this file's
 * job, apart from the Ready loop's ordering.
 */
import type { ConfState, Entry, NodeId } from '../raft/types.ts';
import type { Transport } from '../transport/types.ts';
import type { MemberView } from './api.ts';
import { Farewells } from './farewells.ts';
import { memberViews } from './members.ts';

export interface PeerSyncParts {
  readonly id: NodeId;
  readonly transport: Transport;
  /** Members to talk to before any configuration was applied (a joining node). */
  readonly seedPeers: readonly MemberView[];
  /** How long a removed member stays a transport peer so it can be told of its removal. */
  readonly farewellTtlMs: number;
}

export class PeerSync {
  readonly #id: NodeId;
  readonly #transport: Transport;
  readonly #farewells: Farewells;
  #seedPeers: readonly MemberView[];
  /** Cached decode of the applied membership; refreshed when it changes. */
  #members: MemberView[] = [];
  #membersOf: ConfState | undefined;

  constructor(parts: PeerSyncParts) {
    this.#id = parts.id;
    this.#transport = parts.transport;
    this.#seedPeers = parts.seedPeers;
    this.#farewells = new Farewells(parts.id, parts.farewellTtlMs);
  }

  /** The members of the configuration last decoded. */
  get members(): readonly MemberView[] {
    return this.#members;
  }

  /** The members of `cs` (decoded again only when the configuration object changed). */
  membersFor(cs: ConfState): MemberView[] {
    if (cs !== this.#membersOf) {
      this.#membersOf = cs;
      this.#members = memberViews(cs);
    }
    return this.#members;
  }

  /** Replace the seed list (used only while no configuration is applied). Call sync() after. */
  setSeeds(members: readonly MemberView[]): void {
    this.#seedPeers = members;
  }

  /** Keep the transport's peers equal to the applied membership (or the seed list before any), plus farewell peers. */
  sync(): void {
    const members = this.#members.length > 0 ? this.#members : this.#seedPeers;
    const want = new Map<NodeId, string>();
    for (const m of members) if (m.id !== this.#id && m.raftAddr !== '') want.set(m.id, m.raftAddr);
    for (const [id, addr] of this.#farewells.peers()) if (!want.has(id)) want.set(id, addr);
    const have = this.#transport.peers();
    for (const id of Object.keys(have)) if (!want.has(id)) this.#transport.removePeer(id);
    for (const [id, addr] of want) if (have[id]?.addr !== addr) this.#transport.setPeer(id, addr);
  }

  /** The leader applied a membership entry: remember whom it removes, to tell them (farewells.ts). */
  noteConfEntry(e: Entry, nowMs: number): void {
    this.#farewells.note(e, (id) => this.#members.find((m) => m.id === id)?.raftAddr ?? '', nowMs);
  }

  /**
   * Tell recently removed members that their removal committed. Returns true when a removed member
   * was let go (the caller then calls sync() while running).
   */
  sendFarewells(nowMs: number, term: number, isLeader: boolean): boolean {
    if (this.#farewells.size === 0) return false;
    const isMember = (id: NodeId): boolean => this.#members.some((m) => m.id === id);
    const { messages, dropped } = this.#farewells.due(nowMs, term, isLeader, isMember);
    if (messages.length > 0) this.#transport.send(messages);
    return dropped;
  }
}
