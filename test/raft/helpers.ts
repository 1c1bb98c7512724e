/**
 * A tiny in-test cluster: N cores with MemoryStorage and a perfect, synchronous network that the
 * test can cut (drop rules) and drive step by step.
 *
 * Why: each unit test states one Raft rule; this helper removes the plumbing (persist Ready, deliver
 * messages, apply entries) so the test body shows only the scenario.
 */
import { bootstrap, bootstrapEntries, createRaft, MemoryStorage } from '../../src/raft/index.ts';
import { makeMessage } from '../../src/raft/message.ts';
import type { Entry, Message, RaftConfig, RaftCore, ReadState, Ready } from '../../src/raft/index.ts';

/** Deterministic PRNG (mulberry32) so elections are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type NodeOptions = Partial<Omit<RaftConfig, 'id'>>;

export interface TestNode {
  id: string;
  core: RaftCore;
  storage: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
  /** Every Ready taken from this node, in order (tests inspect persist-before-send). */
  readies: Ready[];
}

const enc = new TextEncoder();
/** Bytes of a string command. */
export function cmd(s: string): Uint8Array {
  return enc.encode(s);
}
const dec = new TextDecoder();
export function text(e: Entry): string {
  return dec.decode(e.data);
}

/**
 * A storage holding the bootstrap conf entries for `voters` (indices 1..n, term 1, committed) followed
 * by one entry per element of `terms` (index n+1, n+2, ...; data 'e<index>' padded to 2 bytes), with
 * hard state term `term` (default: the last entry's term). Create its core with `applied: voters.length`.
 */
export function storageWithLog(voters: readonly string[], terms: readonly number[], term?: number): MemoryStorage {
  const s = new MemoryStorage();
  const boot = bootstrapEntries(voters);
  const ents: Entry[] = [...boot];
  for (const t of terms) {
    const index = ents.length + 1;
    ents.push({ index, term: t, type: 'normal', data: cmd(`e${index}`) });
  }
  const last = ents[ents.length - 1] as Entry;
  s.save({ term: term ?? last.term, vote: '', commit: boot.length }, ents);
  return s;
}

export class Cluster {
  readonly nodes = new Map<string, TestNode>();
  /** Messages sent and not yet delivered, in order. */
  queue: Message[] = [];
  /** Return true to drop a message. */
  drop: (m: Message) => boolean = () => false;
  /** Rewrite a message before delivery (e.g. strip entries); runs after `drop`. */
  rewrite: (m: Message) => Message = (m) => m;
  /** Every message delivered (after drop rules), for assertions. */
  delivered: Message[] = [];
  private readonly options: NodeOptions;

  /**
   * @param ids the nodes; those in `bootstrapIds` start as the founding voters, the others empty (joiners)
   * @param storages prebuilt storages (e.g. {@link storageWithLog}); their cores start with applied = bootstrap size
   */
  constructor(
    ids: readonly string[],
    options: NodeOptions = {},
    bootstrapIds: readonly string[] = ids,
    storages: ReadonlyMap<string, MemoryStorage> = new Map(),
  ) {
    this.options = options;
    let seed = 1;
    for (const id of ids) {
      const pre = storages.get(id);
      if (pre !== undefined) {
        this.add(id, pre, seed++, { applied: bootstrapIds.length });
        continue;
      }
      const storage = new MemoryStorage();
      if (bootstrapIds.includes(id)) bootstrap(storage, bootstrapIds);
      this.add(id, storage, seed++);
    }
  }

  /** Create (or re-create after a crash) node `id` over `storage`. */
  add(id: string, storage: MemoryStorage, seed: number, extra: NodeOptions = {}): TestNode {
    // startupQuietTicks 0: tests tick single nodes, so freshly created voters must answer votes at once.
    const core = createRaft({ random: seededRandom(seed), startupQuietTicks: 0, ...this.options, ...extra, id }, storage);
    const node: TestNode = { id, core, storage, applied: [], readStates: [], readies: [] };
    this.nodes.set(id, node);
    return node;
  }

  node(id: string): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: string): RaftCore {
    return this.node(id).core;
  }

  /** Drain one node's Ready: persist, queue messages, apply, advance. */
  process(id: string): boolean {
    const n = this.node(id);
    if (!n.core.hasReady()) return false;
    const rd = n.core.ready();
    n.readies.push(rd);
    if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
    n.storage.save(rd.hardState, rd.entries);
    for (const m of rd.messages) this.queue.push(m);
    for (const e of rd.committedEntries) n.applied.push(e);
    for (const r of rd.readStates) n.readStates.push(r);
    n.core.advance(rd);
    return true;
  }

  /** Process every node's Ready and deliver every queued message until quiet (bounded). */
  stabilize(maxRounds = 10_000): void {
    if (!this.run(maxRounds)) throw new Error('cluster did not stabilize');
  }

  /** Like {@link stabilize} but returns false instead of throwing when still busy after `maxRounds`. */
  run(maxRounds: number): boolean {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const id of this.nodes.keys()) while (this.process(id)) busy = true;
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        busy = true;
        this.deliver(m);
      }
      if (!busy) return true;
    }
    return false;
  }

  deliver(original: Message): void {
    if (this.drop(original)) return;
    const m = this.rewrite(original);
    const to = this.nodes.get(m.to);
    if (to === undefined) return;
    this.delivered.push(m);
    to.core.step(m);
  }

  /** Tick every node (or the given ones) `n` times, stabilizing after each tick. */
  tick(n = 1, ids: readonly string[] = [...this.nodes.keys()]): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids) this.core(id).tick();
      this.stabilize();
    }
  }

  /** Tick `id` until it campaigns and the cluster settles; returns the leader (if any). */
  elect(id: string, maxTicks = 100): string {
    this.stabilize();
    for (let i = 0; i < maxTicks; i++) {
      this.core(id).tick();
      this.stabilize();
      if (this.core(id).status().role === 'leader') return id;
    }
    throw new Error(`${id} did not become leader within ${maxTicks} ticks`);
  }

  leader(): string {
    const ls = [...this.nodes.values()].filter((n) => n.core.status().role === 'leader');
    return ls.length === 1 ? (ls[0] as TestNode).id : '';
  }

  /** Cut all traffic between the two groups. */
  partition(a: readonly string[], b: readonly string[]): void {
    this.drop = (m) => (a.includes(m.from) && b.includes(m.to)) || (b.includes(m.from) && a.includes(m.to));
  }

  isolate(id: string): void {
    this.drop = (m) => m.from === id || m.to === id;
  }

  heal(): void {
    this.drop = () => false;
  }
}

/** A message with every field defaulted (see makeMessage), for stepping a core by hand. */
export function msg(type: Message['type'], from: string, to: string, term: number, extra: Partial<Message> = {}): Message {
  return { ...makeMessage(type, from, to, term), ...extra };
}
