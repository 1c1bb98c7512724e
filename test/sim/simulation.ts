/**
 * One simulated run: a seeded cluster under random faults, then healing and a liveness check.
 *
 * Why one function: `runSimulation({ seed, nodes, steps })` is the unit the CLI, the tests and the
 * storage engineer (with a durable storage factory) all call. A step is one virtual millisecond:
 * due messages are delivered, due ticks fire, faults and client operations strike at random, then
 * every node's Ready is processed and the invariants are checked. After `steps` ms every fault
 * heals; the cluster must then elect a leader and commit new client commands on every member
 * within `livenessBoundMs`. Each node ticks on its own drifting clock; stalled nodes resume when
 * their stall ends (time.ts).
 */
import type { CreateRaft, RaftTestFaults } from '../../src/raft/api.ts';
import { createRaft, MemoryStorage } from '../../src/raft/index.ts';
import type { NodeId } from '../../src/raft/types.ts';
import { Checker, type Violation, ViolationError } from './checker.ts';
import {
  type BootstrapMode,
  type ClusterStats,
  type CrashPoint,
  SimCluster,
  type SimNode,
  type StorageFactory,
  type StorageReopener,
  TICK_MS,
} from './cluster.ts';
import { mix32 } from './hash.ts';
import { CALM_NETWORK, type NetworkStats, SimNetwork } from './network.ts';
import { ALL_FAULTS, type FaultOptions, drawProfile, type Profile } from './profile.ts';
import { Prng } from './prng.ts';
import { drawStallMs, type TimeProfile } from './time.ts';
import { TraceRing } from './trace.ts';

/** Virtual ms of faults per run when not given (see the CLI's --steps). */
export const DEFAULT_STEPS = 4000;
/** After healing, a leader must emerge within this many virtual ms (30 election timeouts). */
export const DEFAULT_LEADER_BOUND_MS = 3000;
/** After healing, the cluster may go this long without any node persisting or applying an entry before it counts as stuck. */
export const DEFAULT_STALL_BOUND_MS = 3000;
/** After healing, the cluster must have fully recovered within this many virtual ms however slowly it catches up. */
export const DEFAULT_LIVENESS_BOUND_MS = 60_000;
/** Client commands proposed after healing that must commit everywhere. */
const LIVENESS_COMMANDS = 3;
/** A client re-proposes a command not applied after this long. */
const CLIENT_RETRY_MS = 300;
/** Lines of trace kept for a violation report. */
const TRACE_LINES = 40;
const CRASH_POINTS: readonly CrashPoint[] = ['now', 'afterSave', 'afterSend'];

export interface SimOptions {
  readonly seed: number;
  /** Cluster size (3 or 5 usually). Default 3. */
  readonly nodes?: number;
  /** Virtual ms of faults before healing. Default {@link DEFAULT_STEPS}. */
  readonly steps?: number;
  /** Creates each node's empty storage. Default: MemoryStorage. Called again for a node that is wiped before it rejoins (must return an empty storage then too). */
  readonly storageFactory?: StorageFactory;
  /** Called on restart with the surviving storage; return a reopened one to test recovery. Default: reuse it. */
  readonly reopenStorage?: StorageReopener;
  /** Switch fault kinds off (all on by default). */
  readonly faults?: Partial<FaultOptions>;
  /** Override parts of the randomly drawn profile (tests aiming at one scenario). */
  readonly profile?: Partial<Profile>;
  /** Override parts of the drawn time profile (merged over it, unlike `profile.time`, which replaces it). */
  readonly timeProfile?: Partial<TimeProfile>;
  /** Deliberately wrong core rules (tests proving the simulator catches bugs). */
  readonly testFaults?: RaftTestFaults;
  /**
   * 'founders' (default): every node bootstraps the full membership. 'single': the first node
   * bootstraps alone and the others join as learners and get promoted (graftd's own flow).
   */
  readonly bootstrap?: BootstrapMode;
  /** Check the Figure 8 commit rule on every leader commit (default true). Off, a wrong commit is caught only once it loses data. */
  readonly checkCommitRule?: boolean;
  /** The storage may lose a commit-only save at a crash (a power cut under WalStorage); see ClusterOptions.volatileCommit. Default false. */
  readonly volatileCommit?: boolean;
  /** The core under test. Default: src/raft createRaft. */
  readonly createRaft?: CreateRaft;
  /** Liveness bounds after healing (virtual ms): a leader within `leaderBoundMs`; no stretch of `stallBoundMs` without an entry persisted or applied somewhere; everything done within `livenessBoundMs`. */
  readonly livenessBoundMs?: number;
  readonly leaderBoundMs?: number;
  readonly stallBoundMs?: number;
  /** Receives every trace line including message-level ones (replay with --trace). */
  readonly onTrace?: (line: string) => void;
}

/** Counters describing a run. */
export interface SimStats extends ClusterStats {
  readonly network: NetworkStats;
  readonly leadersElected: number;
  readonly maxTerm: number;
  readonly committed: number;
  readonly readsServed: number;
  readonly leaseReadsServed: number;
  readonly partitions: number;
}

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  /** Empty when every invariant held; the run stops at the first violation. */
  readonly violations: readonly Violation[];
  /** Virtual ms simulated. */
  readonly timeMs: number;
  /** Virtual ms from healing until liveness held (null when it did not). */
  readonly recoveryMs: number | null;
  readonly profile: Profile;
  readonly stats: SimStats;
  /** A hash of the run's outcome: equal seeds must give equal digests. */
  readonly digest: number;
}

/** Run one seeded simulation. Deterministic: the same options give the same result. */
export function runSimulation(options: SimOptions): SimResult {
  const nodes = options.nodes ?? 3;
  const mode: BootstrapMode = options.bootstrap ?? 'founders';
  const steps = options.steps ?? DEFAULT_STEPS;
  const bound = options.livenessBoundMs ?? DEFAULT_LIVENESS_BOUND_MS;
  const leaderBound = options.leaderBoundMs ?? DEFAULT_LEADER_BOUND_MS;
  const stallBound = options.stallBoundMs ?? DEFAULT_STALL_BOUND_MS;
  const ids: NodeId[] = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
  const root = new Prng(options.seed);
  const faults: FaultOptions = { ...ALL_FAULTS, ...options.faults };
  const drawn: Profile = { ...drawProfile(root.fork(), faults), ...options.profile };
  const profile: Profile = options.timeProfile === undefined ? drawn : { ...drawn, time: { ...drawn.time, ...options.timeProfile } };
  const faultRng = root.fork();
  const clientRng = root.fork();
  const trace = new TraceRing(TRACE_LINES, options.onTrace ?? null);
  const checker = new Checker();
  let cluster: SimCluster | null = null;
  const net = new SimNetwork(ids, root.fork(), (m, cut) => cluster?.onDrop(m, cut));
  net.config = { ...profile.network };
  const coreRng = root.fork();
  const clusterRng = root.fork();
  // Forked last: the streams above are what they were before time faults existed.
  const timeRng = root.fork();
  const stallRng = root.fork();
  const c = new SimCluster({
    ids,
    coreRng,
    rng: clusterRng,
    timeRng,
    net,
    checker,
    trace,
    profile,
    createRaft: options.createRaft ?? createRaft,
    storageFactory: options.storageFactory ?? (() => new MemoryStorage()),
    reopenStorage: options.reopenStorage ?? null,
    testFaults: options.testFaults ?? null,
    checkCommitRule: options.checkCommitRule ?? true,
    volatileCommit: options.volatileCommit ?? false,
  });
  cluster = c;

  const violations: Violation[] = [];
  let partitionHealAt = -1;
  let partitions = 0;
  let recoveryMs: number | null = null;
  const healAt = steps;
  const deadline = steps + bound;
  const liveness: { id: string; lastTryMs: number }[] = [];
  let now = 0;
  let leaderSeen = false;
  let lastProgress = 0;
  let lastProgressMs = healAt;

  const alive = (): SimNode[] => c.nodes.filter((n) => n.alive);
  /** Where a client sends a request: a node that believes it leads, else (now and then) any live node. */
  const target = (rng: Prng): SimNode | undefined => {
    const leaders = c.leaders();
    if (leaders.length > 0) return rng.pick(leaders);
    const up = alive();
    // Requests to followers only exercise NotLeaderError (costly to build); a few suffice.
    return up.length > 0 && rng.chance(0.1) ? rng.pick(up) : undefined;
  };

  const partition = (): void => {
    const kind = faultRng.int(4);
    if (kind === 0) {
      // Symmetric: a random minority against the rest.
      const side = new Set<NodeId>();
      const size = faultRng.range(1, Math.floor(nodes / 2));
      while (side.size < size) side.add(faultRng.pick(ids));
      net.partition(side);
    } else if (kind === 1) {
      // Isolate the (or a) leader: the stale-leader scenarios.
      const leader = c.leaders()[0] ?? faultRng.pick(c.nodes);
      net.partition(new Set([leader.id]));
    } else if (kind === 2) {
      // One-way cuts: a node that can send but not receive, or the opposite.
      const count = faultRng.range(1, nodes);
      for (let i = 0; i < count; i++) {
        const from = faultRng.pick(ids);
        const to = faultRng.pick(ids);
        if (from !== to) net.setLink(from, to, true);
      }
    } else {
      // A bridge: two nodes cannot talk to each other but both reach the rest.
      const a = faultRng.pick(ids);
      const b = faultRng.pick(ids.filter((x) => x !== a));
      net.setLink(a, b, true);
      net.setLink(b, a, true);
    }
    partitions++;
    partitionHealAt = now + faultRng.range(50, 1500);
    trace.add(now, `PARTITION ${net.describeCuts()} until ${partitionHealAt}ms`);
  };

  /** Stop a process (a leader more often than not): its clock runs on, it handles nothing until it resumes. */
  const stall = (): void => {
    if (!stallRng.chance(profile.time.stallPerMs)) return;
    const running = c.nodes.filter((n) => n.running);
    const leaders = running.filter((n) => n.role === 'leader');
    const victim =
      leaders.length > 0 && stallRng.chance(profile.time.stallLeaderShare)
        ? stallRng.pick(leaders)
        : running[0] === undefined
          ? undefined
          : stallRng.pick(running);
    if (victim !== undefined) c.stall(victim, drawStallMs(stallRng, profile.time));
  };

  /** The leader an operator's request (membership, transfer) reaches: a running one. */
  const adminLeader = (): SimNode | undefined => c.leaders().find((n) => n.running);

  const chaos = (): void => {
    stall();
    if (faultRng.chance(profile.crashPerMs)) {
      const up = alive();
      const leaders = c.leaders();
      const victim = leaders.length > 0 && faultRng.chance(0.4) ? faultRng.pick(leaders) : up.length > 0 ? faultRng.pick(up) : undefined;
      if (victim !== undefined) c.crash(victim, faultRng.pick(CRASH_POINTS), faultRng.range(5, 700));
    }
    for (const leader of c.newLeaders) {
      if (leader.alive && leader.crashAtMs < 0 && faultRng.chance(profile.crashNewLeader))
        leader.crashAtMs = now + (faultRng.chance(0.5) ? 0 : faultRng.range(1, 40));
    }
    c.newLeaders.length = 0;
    for (const node of c.nodes) {
      if (node.alive && node.crashAtMs >= 0 && now >= node.crashAtMs) c.crash(node, faultRng.pick(CRASH_POINTS), faultRng.range(5, 700));
    }
    if (partitionHealAt < 0 && faultRng.chance(profile.partitionPerMs)) partition();
    else if (partitionHealAt >= 0 && now >= partitionHealAt) {
      net.heal();
      partitionHealAt = -1;
      trace.add(now, 'partition healed');
    }
    // A cluster still growing to full size (single-founder bootstrap) adds members briskly.
    const growing = mode === 'single' && (c.leaders()[0]?.core?.confState().voters.length ?? nodes) < nodes;
    if (faultRng.chance(growing ? 1 / 20 : profile.membershipPerMs)) {
      const leader = adminLeader();
      if (leader !== undefined) c.changeMembership(leader, faultRng);
    }
    if (faultRng.chance(profile.transferPerMs)) {
      const leader = adminLeader();
      if (leader !== undefined) c.transfer(leader, faultRng);
    }
    for (const node of c.nodes) if (!node.alive && now >= node.restartAtMs) c.restart(node);
  };

  const clientOps = (): void => {
    if (clientRng.chance(profile.proposePerMs)) {
      const node = target(clientRng);
      if (node !== undefined) c.propose(node, clientRng.range(1, 3));
    }
    if (clientRng.chance(profile.readPerMs)) {
      const node = target(clientRng);
      if (node !== undefined) c.read(node, clientRng.chance(profile.leaseShare) ? 'lease' : 'safe');
    }
  };

  const heal = (): void => {
    net.heal();
    partitionHealAt = -1;
    net.config = { ...CALM_NETWORK };
    c.calmTime = true;
    for (const node of c.nodes) c.resume(node);
    for (const node of c.nodes) {
      node.crashPoint = null;
      node.crashAtMs = -1;
      c.restart(node);
    }
    for (let i = 0; i < LIVENESS_COMMANDS; i++) liveness.push({ id: `h${i}`, lastTryMs: -1 });
    trace.add(now, 'HEAL: all nodes up, network calm');
  };

  /** The live leader with the highest term, if any. */
  const currentLeader = (): SimNode | undefined => {
    let best: SimNode | undefined;
    for (const n of c.leaders()) if (best === undefined || n.term > best.term) best = n;
    return best;
  };

  const livenessClient = (): void => {
    if ((now - healAt) % TICK_MS !== 0) return;
    const leader = currentLeader();
    if (leader === undefined) return;
    for (const cmd of liveness) {
      if (c.appliedCmds.has(cmd.id)) continue;
      if (cmd.lastTryMs >= 0 && now - cmd.lastTryMs < CLIENT_RETRY_MS) continue;
      if (c.proposeCmds(leader, [cmd.id])) cmd.lastTryMs = now;
    }
  };

  /** '' when recovered, else what is still missing. */
  const livenessGap = (): string => {
    const leader = currentLeader();
    if (leader === undefined || leader.core === null) return 'no leader';
    let top = 0;
    for (const cmd of liveness) {
      const at = c.appliedCmds.get(cmd.id);
      if (at === undefined) return `command ${cmd.id} not committed (leader ${leader.id}, term ${leader.term})`;
      top = Math.max(top, at);
    }
    const cs = leader.core.confState();
    for (const id of [...cs.voters, ...cs.learners]) {
      const n = c.byId.get(id);
      if (n === undefined || !n.alive) return `member ${id} is not running`;
      if (n.applied < top) return `member ${id} applied up to ${n.applied}, the new commands reach ${top}`;
    }
    return '';
  };

  try {
    c.start(mode);
    for (now = 0; now <= deadline; now++) {
      c.now = now;
      c.reportLostSnapshots();
      for (const node of c.nodes) if (node.time.stalledUntil >= 0 && now >= node.time.stalledUntil) c.resume(node);
      c.rethrow();
      for (let msg = net.poll(now); msg !== undefined; msg = net.poll(now)) c.deliver(msg);
      c.rethrow();
      c.fireTimers();
      c.rethrow();
      if (now < healAt) {
        chaos();
        clientOps();
      } else {
        if (now === healAt) heal();
        livenessClient();
      }
      c.processAll();
      c.rethrow();
      if (now > healAt) {
        const gap = livenessGap();
        if (gap === '') {
          recoveryMs = now - healAt;
          break;
        }
        if (!leaderSeen && currentLeader() !== undefined) leaderSeen = true;
        let progress = c.entriesPersisted;
        for (const n of c.nodes) progress += n.applied;
        if (progress !== lastProgress) {
          lastProgress = progress;
          lastProgressMs = now;
        }
        const stuck =
          !leaderSeen && now - healAt >= leaderBound
            ? `no leader ${leaderBound}ms after healing`
            : now - lastProgressMs >= stallBound
              ? `no entry persisted or applied anywhere for ${stallBound}ms`
              : now >= deadline
                ? `not recovered ${bound}ms after healing`
                : '';
        if (stuck !== '') throw new ViolationError('liveness', `${stuck}: ${gap}; ${describeNodes(c)}`);
      }
    }
  } catch (err) {
    if (err instanceof ViolationError) {
      violations.push({ kind: err.kind, timeMs: now, message: err.message, trace: trace.snapshot() });
    } else {
      const e = err as Error;
      const where = (e.stack ?? '')
        .split('\n')
        .slice(1, 4)
        .map((l) => l.trim())
        .join(' < ');
      violations.push({ kind: 'core-error', timeMs: now, message: `${e.name}: ${e.message} at ${where}`, trace: trace.snapshot() });
    }
  }

  let maxTerm = 0;
  let digest = mix32(options.seed >>> 0, checker.maxCommitted);
  for (const n of c.nodes) {
    maxTerm = Math.max(maxTerm, n.term);
    digest = mix32(mix32(digest, n.applied), n.appHash);
  }
  digest = mix32(mix32(digest, net.stats.delivered), violations.length);
  return {
    seed: options.seed,
    nodes,
    steps,
    violations,
    timeMs: now,
    recoveryMs,
    profile,
    stats: {
      ...c.stats,
      network: { ...net.stats },
      leadersElected: checker.leadersElected,
      maxTerm,
      committed: checker.maxCommitted,
      readsServed: checker.readsServed,
      leaseReadsServed: checker.leaseReadsServed,
      partitions,
    },
    digest,
  };
}

function describeNodes(c: SimCluster): string {
  return c.nodes
    .map((n) => `${n.id}: ${n.alive ? n.role : 'down'} term ${n.term} commit ${n.commitFloor} applied ${n.applied} last ${n.log.lastIndex}`)
    .join('; ');
}
