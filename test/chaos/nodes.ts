/**
 * The chaos run's graftd processes: start, join, kill -9, pause, resume, restart, observe.
 *
 * Why not the integration helper: a chaos run keeps everything under its run directory (data
 * dirs and one log per node that survives restarts, for the report), needs SIGSTOP/SIGCONT and
 * must be able to kill every child synchronously from an exit hook. Node i (1-based) is `n<i>`
 * on 127.0.0.(10+i), HTTP port 13010+i, raft port 14010+i (this harness's allocation: 127.0.0.11–17,
 * i.e. up to 5 founding nodes plus 2 spare slots that membership faults start as new members).
 *
 * Why a member set apart from the slots: membership faults add and remove members while a run is
 * going on, so "the cluster" is the set of slots the harness currently intends to be members
 * (`memberIds`), not every slot; faults, polling, convergence and the final checks use that set.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeStatus } from '../../src/node/api.ts';
import { registerCleanup } from './cleanup.ts';
import { type ChaosSecurity, harnessFetch, schemeOf } from './security.ts';

/** Path of the server command. */
export const GRAFTD_BIN = resolve(import.meta.dirname, '../../bin/graftd');

/** Fixed addresses and files of one node. */
export interface NodeSpec {
  readonly id: string;
  readonly ip: string;
  readonly httpAddr: string;
  readonly raftAddr: string;
  readonly dataDir: string;
  readonly logFile: string;
}

/** Most slots the allocation has (127.0.0.11–17). */
export const MAX_SLOTS = 7;

/**
 * The addresses of an `n`-node chaos cluster whose files live under `runDir`, plus `spares`
 * slots after them (n<n+1>.., for members added during the run).
 */
export function layoutNodes(n: number, runDir: string, spares = 0): NodeSpec[] {
  if (n < 1 || n > 5) throw new RangeError(`the chaos allocation has room for 1..5 nodes, asked for ${n}`);
  if (spares < 0 || n + spares > MAX_SLOTS)
    throw new RangeError(`the chaos allocation has ${MAX_SLOTS} slots, asked for ${n} nodes + ${spares} spares`);
  const specs: NodeSpec[] = [];
  for (let i = 1; i <= n + spares; i++) {
    const ip = `127.0.0.${10 + i}`;
    specs.push({
      id: `n${i}`,
      ip,
      httpAddr: `${ip}:${13010 + i}`,
      raftAddr: `${ip}:${14010 + i}`,
      dataDir: join(runDir, `n${i}`),
      logFile: join(runDir, `n${i}.log`),
    });
  }
  return specs;
}

/** Timings the nodes run with during chaos (fast elections, short request timeout, frequent snapshots). */
export const CHAOS_NODE_ENV: Readonly<Record<string, string>> = {
  HEARTBEAT_TIMEOUT: '50',
  ELECTION_TIMEOUT: '500',
  REQUEST_TIMEOUT: '2000',
  SNAPSHOT_INTERVAL: '2',
  SNAPSHOT_THRESHOLD: '2000',
  TRAILING_LOGS: '500',
  LOG_LEVEL: 'info',
};

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  paused: boolean;
}

/** Fetch JSON with a timeout; undefined on any failure. */
async function getJson<T>(url: string, timeoutMs: number, security: ChaosSecurity | undefined): Promise<T | undefined> {
  try {
    const res = await harnessFetch(security, url, AbortSignal.timeout(timeoutMs));
    if (res.status !== 200) {
      await res.body?.cancel();
      return undefined;
    }
    return (await res.json()) as T;
  } catch {
    return undefined;
  }
}

/** A set of graftd processes owned by one chaos run. */
export class ChaosCluster {
  /** Every slot, members or not. */
  readonly specs: readonly NodeSpec[];
  readonly #env: Readonly<Record<string, string>>;
  readonly #running = new Map<string, Running>();
  /** Slots the harness intends to be members, with whether each should be a voter. */
  readonly #members = new Map<string, boolean>();
  /** Slots that joined during the run (restarted with -join: their first join may not have finished). */
  readonly #joined = new Set<string>();
  readonly #unregister: () => void;
  /** Called with a line for the run's own log (starts, kills, restarts). */
  readonly #note: (line: string) => void;
  /** Set in secure mode: TLS + secret + auth flags for every node, https + credentials for every call. */
  readonly security: ChaosSecurity | undefined;

  constructor(
    specs: readonly NodeSpec[],
    env: Readonly<Record<string, string>>,
    note: (line: string) => void = () => {},
    security?: ChaosSecurity,
    founders: number = specs.length,
  ) {
    this.specs = specs;
    for (const s of specs.slice(0, founders)) this.#members.set(s.id, true);
    this.#env = env;
    this.#note = note;
    this.security = security;
    this.#unregister = registerCleanup(() => this.killAllSync());
  }

  spec(id: string): NodeSpec {
    const s = this.specs.find((x) => x.id === id);
    if (s === undefined) throw new Error(`unknown node ${id}`);
    return s;
  }

  /** Ids of the slots the harness intends to be members now, in slot order. */
  memberIds(): string[] {
    return this.specs.filter((s) => this.#members.has(s.id)).map((s) => s.id);
  }

  /** The intended membership: id → voter. */
  intendedMembers(): ReadonlyMap<string, boolean> {
    return this.#members;
  }

  isMember(id: string): boolean {
    return this.#members.has(id);
  }

  /** Slots that are no member and have no process: free to start as a new member (data wiped). */
  freeSlots(): string[] {
    return this.specs.filter((s) => !this.#members.has(s.id) && !this.#running.has(s.id)).map((s) => s.id);
  }

  /**
   * Start slot `id` as a new member joining through member `through`: its old data (a removed
   * member's) is wiped first, then graftd runs with -join (and --learner when not a voter).
   */
  addMember(id: string, through: string, voter = true): void {
    if (this.#members.has(id) || this.#running.has(id)) throw new Error(`slot ${id} is in use`);
    rmSync(this.spec(id).dataDir, { recursive: true, force: true });
    this.#members.set(id, voter);
    this.#joined.add(id);
    this.startNode(id, through, !voter);
  }

  /** Stop counting `id` as a member (the harness asked the cluster to remove it). */
  forgetMember(id: string): void {
    this.#members.delete(id);
  }

  /** Ids of member nodes whose process is alive (paused ones included). */
  alive(): string[] {
    return this.memberIds().filter((id) => this.#running.has(id));
  }

  /** Ids of member nodes that are alive and not paused. */
  responsive(): string[] {
    return this.memberIds().filter((id) => this.#running.has(id) && !this.#running.get(id)!.paused);
  }

  /** Ids of every slot with a live, unpaused process (members or not: a removed node may still run). */
  reachable(): string[] {
    return this.specs.filter((s) => this.#running.has(s.id) && !this.#running.get(s.id)!.paused).map((s) => s.id);
  }

  /** Ids of every slot with a process (members or not). */
  running(): string[] {
    return this.specs.filter((s) => this.#running.has(s.id)).map((s) => s.id);
  }

  isAlive(id: string): boolean {
    return this.#running.has(id);
  }

  isPaused(id: string): boolean {
    return this.#running.get(id)?.paused === true;
  }

  /** Start a node's process. `join` is the id of a member to join through (first start only). */
  startNode(id: string, join?: string, learner = false): void {
    if (this.#running.has(id)) throw new Error(`node ${id} is already running`);
    const s = this.spec(id);
    mkdirSync(s.dataDir, { recursive: true });
    const args = ['-id', s.id, '-haddr', s.httpAddr, '-raddr', s.raftAddr];
    if (join !== undefined) args.push('-join', this.spec(join).httpAddr);
    if (learner) args.push('--learner');
    if (this.security !== undefined) args.push(...this.security.nodeArgs(s.id));
    args.push(s.dataDir);
    const fd = openSync(s.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [GRAFTD_BIN, ...args], { env: { ...process.env, ...this.#env }, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const exited = new Promise<void>((res) => {
      child.once('exit', (code, signal) => {
        if (this.#running.get(id)?.child === child) this.#running.delete(id);
        this.#note(`${id} exited (${signal ?? `code ${code}`})`);
        res();
      });
    });
    this.#running.set(id, { child, exited, paused: false });
    this.#note(`${id} started (pid ${child.pid}${join === undefined ? '' : `, joining through ${join}`})`);
  }

  /**
   * Restart a node on its existing data directory. A founder with state needs no -join; a node
   * added during the run gets -join again (a no-op once it is a member, the join itself if it was
   * killed before the cluster added it).
   */
  restart(id: string): void {
    const s = this.spec(id);
    const hasState = existsSync(s.dataDir) && readdirSync(s.dataDir).length > 0;
    const needsJoin = !hasState || this.#joined.has(id);
    const through = needsJoin ? this.responsive().find((x) => x !== id) : undefined;
    this.startNode(id, through, this.#members.get(id) === false);
  }

  /** SIGKILL a node and wait for it to be gone. */
  async kill(id: string): Promise<void> {
    const r = this.#running.get(id);
    if (r === undefined) return;
    r.child.kill('SIGKILL');
    await r.exited;
  }

  /** SIGSTOP a node. */
  pause(id: string): void {
    const r = this.#running.get(id);
    if (r === undefined || r.paused) return;
    r.child.kill('SIGSTOP');
    r.paused = true;
    this.#note(`${id} paused (SIGSTOP)`);
  }

  /** SIGCONT a node. */
  resume(id: string): void {
    const r = this.#running.get(id);
    if (r === undefined || !r.paused) return;
    r.child.kill('SIGCONT');
    r.paused = false;
    this.#note(`${id} resumed (SIGCONT)`);
  }

  /** GET /status of one node (undefined when it does not answer within `timeoutMs`). */
  status(id: string, timeoutMs = 1000): Promise<NodeStatus | undefined> {
    return getJson<NodeStatus>(`${schemeOf(this.security)}://${this.spec(id).httpAddr}/status`, timeoutMs, this.security);
  }

  /** Statuses of every responsive member (or of `ids`) that answered. */
  async statuses(timeoutMs = 1000, ids: readonly string[] = this.responsive()): Promise<Map<string, NodeStatus>> {
    const got = await Promise.all(ids.map((id) => this.status(id, timeoutMs)));
    const out = new Map<string, NodeStatus>();
    ids.forEach((id, i) => {
      const s = got[i];
      if (s !== undefined) out.set(id, s);
    });
    return out;
  }

  /**
   * The node that calls itself leader with the highest term, if any, among the responsive members
   * (or `ids`: a removed node may still lead until its removal commits).
   */
  async leader(ids: readonly string[] = this.responsive()): Promise<string | undefined> {
    let best: NodeStatus | undefined;
    for (const s of (await this.statuses(1000, ids)).values()) {
      if (s.role === 'leader' && (best === undefined || s.term > best.term)) best = s;
    }
    return best?.id;
  }

  /** Wait until some node is leader; throws after `timeoutMs`. */
  async waitForLeader(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const l = await this.leader();
      if (l !== undefined) return l;
      await sleep(100);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  /** Start the first member (bootstrap), then the other members joining through it; wait until all are voters. */
  async startAll(timeoutMs: number): Promise<void> {
    const [first, ...rest] = this.memberIds();
    if (first === undefined) throw new Error('no nodes');
    this.startNode(first);
    await this.waitForLeader(timeoutMs);
    for (const id of rest) this.startNode(id, first);
    const want = rest.length + 1;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.leader();
      const st = leader === undefined ? undefined : await this.status(leader);
      const voters = st?.members.filter((m) => m.voter).length ?? 0;
      if (voters === want) return;
      await sleep(200);
    }
    throw new Error(`the ${want} nodes did not all become voters within ${timeoutMs} ms (see the node logs)`);
  }

  /** How the leader's membership differs from the intended one ('' when it matches). */
  static membershipGap(members: NodeStatus['members'], intended: ReadonlyMap<string, boolean>): string {
    const have = new Map(members.map((m) => [m.id, m.voter]));
    const gaps: string[] = [];
    for (const [id, voter] of intended) {
      if (!have.has(id)) gaps.push(`${id} missing`);
      else if (have.get(id) !== voter) gaps.push(`${id} is ${have.get(id) ? 'a voter' : 'a learner'}`);
    }
    for (const id of have.keys()) if (!intended.has(id)) gaps.push(`${id} still a member`);
    return gaps.join(', ');
  }

  /**
   * Wait until every member is up and agrees on one leader and term, has applied everything the
   * leader has committed, and the leader's membership is the intended one (added voters promoted,
   * removed members gone). Returns the final statuses; throws after `timeoutMs`.
   */
  async waitConverged(timeoutMs: number): Promise<Map<string, NodeStatus>> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const all = await this.statuses();
      const leaders = [...all.values()].filter((s) => s.role === 'leader');
      const leader = leaders.length === 1 ? leaders[0]! : undefined;
      const gap = leader === undefined ? '' : ChaosCluster.membershipGap(leader.members, this.#members);
      if (all.size === this.#members.size && leader !== undefined && gap === '') {
        const agree = [...all.values()].every(
          (s) => s.leaderId === leader.id && s.term === leader.term && s.appliedIndex >= leader.commitIndex,
        );
        if (agree) return all;
      }
      last =
        [...all.values()].map((s) => `${s.id}:${s.role}/t${s.term}/c${s.commitIndex}/a${s.appliedIndex}`).join(' ') +
        (gap === '' ? '' : `; membership: ${gap}`);
      await sleep(200);
    }
    throw new Error(`the cluster did not converge within ${timeoutMs} ms (last seen: ${last || 'no answers'})`);
  }

  /** SIGTERM-free teardown: SIGKILL every child now (also used by the exit hook). */
  killAllSync(): void {
    for (const r of this.#running.values()) {
      try {
        r.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Kill every node and wait for the processes to exit; unregisters the exit hook. */
  async destroy(): Promise<void> {
    const waits = [...this.#running.values()].map((r) => r.exited);
    this.killAllSync();
    await Promise.all(waits);
    this.#unregister();
  }
}
