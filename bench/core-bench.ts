/**
 * Throughput of the consensus core alone: 3 cores with MemoryStorage in one process, no disk, no
 * sockets, messages handed over in memory. Prints entries/s for batch sizes 1 and 256 (100-byte
 * commands).
 *
 * Why: it bounds what the whole system can reach and catches regressions in the core's hot path
 * (per-entry allocations, array copies, term lookups). Run with `npm run bench:core`.
 * Options: BENCH_SECONDS (per row, default 2).
 */
import { bootstrap, createRaft, MemoryStorage } from '../src/raft/index.ts';
import type { Message, RaftCore } from '../src/raft/index.ts';

const IDS = ['n1', 'n2', 'n3'] as const;
const COMMAND_BYTES = 100;
const COMPACT_EVERY_ENTRIES = 100_000;

interface BenchNode {
  readonly core: RaftCore;
  readonly storage: MemoryStorage;
}

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

function makeCluster(): Map<string, BenchNode> {
  const nodes = new Map<string, BenchNode>();
  let seed = 1;
  for (const id of IDS) {
    const storage = new MemoryStorage();
    bootstrap(storage, IDS);
    // Large windows: the bench measures the core, not flow control. Only n1 ticks (it must win), so
    // the others answer votes at once (no startup quiet period).
    const core = createRaft({ id, random: seeded(seed++), maxInflight: 1024, maxMsgBytes: 4 * 1024 * 1024, startupQuietTicks: 0 }, storage);
    nodes.set(id, { core, storage });
  }
  return nodes;
}

/** One event-loop turn for every node: persist, apply, advance; then deliver all messages. Returns false when idle. */
function pump(nodes: Map<string, BenchNode>, inbox: Message[]): boolean {
  let busy = false;
  for (const n of nodes.values()) {
    if (!n.core.hasReady()) continue;
    busy = true;
    const rd = n.core.ready();
    if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
    n.storage.save(rd.hardState, rd.entries);
    for (let i = 0; i < rd.messages.length; i++) inbox.push(rd.messages[i] as Message);
    n.core.advance(rd);
    const st = rd.committedEntries.at(-1);
    if (st !== undefined && st.index - n.storage.firstIndex() > 2 * COMPACT_EVERY_ENTRIES) {
      n.storage.createSnapshot({ index: st.index, term: st.term, confState: n.core.confState() });
      n.storage.compact(st.index - COMPACT_EVERY_ENTRIES);
    }
  }
  if (inbox.length > 0) busy = true;
  for (let i = 0; i < inbox.length; i++) {
    const m = inbox[i] as Message;
    (nodes.get(m.to) as BenchNode).core.step(m);
  }
  inbox.length = 0;
  return busy;
}

function electLeader(nodes: Map<string, BenchNode>): RaftCore {
  const inbox: Message[] = [];
  for (let t = 0; t < 1000; t++) {
    while (pump(nodes, inbox)) {}
    (nodes.get(IDS[0]) as BenchNode).core.tick();
    while (pump(nodes, inbox)) {}
    const leader = (nodes.get(IDS[0]) as BenchNode).core;
    if (leader.status().role === 'leader' && leader.status().commit === leader.status().lastIndex) return leader;
  }
  throw new Error('no leader elected');
}

function run(batch: number, seconds: number): { entriesPerSec: number; batchesPerSec: number; entries: number } {
  const nodes = makeCluster();
  const leader = electLeader(nodes);
  const inbox: Message[] = [];
  const payload = new Uint8Array(COMMAND_BYTES).fill(7);
  const commands: Uint8Array[] = Array.from({ length: batch }, () => payload);
  // Warm up the JIT, then measure.
  const deadlineWarm = performance.now() + 300;
  while (performance.now() < deadlineWarm) {
    leader.propose(commands);
    pump(nodes, inbox);
  }
  while (pump(nodes, inbox)) {}
  const startCommit = leader.status().commit;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let iterations = 0;
  while (true) {
    leader.propose(commands);
    pump(nodes, inbox);
    if ((++iterations & 63) === 0 && performance.now() >= deadline) break;
  }
  while (pump(nodes, inbox)) {}
  const elapsedSec = (performance.now() - start) / 1000;
  const entries = leader.status().commit - startCommit;
  for (const n of nodes.values()) {
    if (n.core.status().applied !== leader.status().commit) throw new Error('followers did not apply everything');
  }
  return { entriesPerSec: entries / elapsedSec, batchesPerSec: iterations / elapsedSec, entries };
}

const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const rows: string[][] = [['batch', 'entries/s', 'batches/s', 'entries']];
for (const batch of [1, 256]) {
  const r = run(batch, seconds);
  rows.push([
    String(batch),
    Math.round(r.entriesPerSec).toLocaleString('en-US'),
    Math.round(r.batchesPerSec).toLocaleString('en-US'),
    String(r.entries),
  ]);
}
const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
console.log(`core bench: 3 nodes, MemoryStorage, ${COMMAND_BYTES}-byte commands, ${seconds}s per row`);
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i] as number)).join('  '));
