/**
 * The chaos run's graftd processes: start, join, kill -9, pause, resume, restart, observe.
 *
 * Why not the integration helper: a chaos run keeps everything under its run directory (data
 * dirs and one log per node that survives restarts, for the report), needs SIGSTOP/SIGCONT and
 * must be able to kill every child synchronously from an exit hook. Node i (1-based) is `n<i>`
 * on 127.0.0.(10+i), HTTP port 13010+i, raft port 14010+i (this harness's allocation).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
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

/** The addresses of an `n`-node chaos cluster whose files live under `runDir`. */
export function layoutNodes(n: number, runDir: string): NodeSpec[] {
  if (n < 1 || n > 5) throw new RangeError(`the chaos allocation has room for 1..5 nodes, asked for ${n}`);
  const specs: NodeSpec[] = [];
  for (let i = 1; i <= n; i++) {
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
  readonly specs: readonly NodeSpec[];
  readonly #env: Readonly<Record<string, string>>;
  readonly #running = new Map<string, Running>();
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
  ) {
    this.specs = specs;
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

  /** Ids of nodes whose process is alive (paused ones included). */
  alive(): string[] {
    return this.specs.filter((s) => this.#running.has(s.id)).map((s) => s.id);
  }

  /** Ids of nodes that are alive and not paused. */
  responsive(): string[] {
    return this.specs.filter((s) => this.#running.has(s.id) && !this.#running.get(s.id)!.paused).map((s) => s.id);
  }

  isAlive(id: string): boolean {
    return this.#running.has(id);
  }

  isPaused(id: string): boolean {
    return this.#running.get(id)?.paused === true;
  }

  /** Start a node's process. `join` is the id of a member to join through (first start only). */
  startNode(id: string, join?: string): void {
    if (this.#running.has(id)) throw new Error(`node ${id} is already running`);
    const s = this.spec(id);
    mkdirSync(s.dataDir, { recursive: true });
    const args = ['-id', s.id, '-haddr', s.httpAddr, '-raddr', s.raftAddr];
    if (join !== undefined) args.push('-join', this.spec(join).httpAddr);
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

  /** Restart a node on its existing data directory (no -join: it already knows the cluster). */
  restart(id: string): void {
    const s = this.spec(id);
    const hasState = existsSync(s.dataDir) && readdirSync(s.dataDir).length > 0;
    const through = hasState ? undefined : this.responsive().find((x) => x !== id);
    this.startNode(id, through);
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

  /** Statuses of every responsive node that answered. */
  async statuses(timeoutMs = 1000): Promise<Map<string, NodeStatus>> {
    const ids = this.responsive();
    const got = await Promise.all(ids.map((id) => this.status(id, timeoutMs)));
    const out = new Map<string, NodeStatus>();
    ids.forEach((id, i) => {
      const s = got[i];
      if (s !== undefined) out.set(id, s);
    });
    return out;
  }

  /** The node that calls itself leader with the highest term, if any. */
  async leader(): Promise<string | undefined> {
    let best: NodeStatus | undefined;
    for (const s of (await this.statuses()).values()) {
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

  /** Start node 1 (bootstrap), then the others joining through it; wait until all are voters. */
  async startAll(timeoutMs: number): Promise<void> {
    const [first, ...rest] = this.specs;
    if (first === undefined) throw new Error('no nodes');
    this.startNode(first.id);
    await this.waitForLeader(timeoutMs);
    for (const s of rest) this.startNode(s.id, first.id);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.leader();
      const st = leader === undefined ? undefined : await this.status(leader);
      const voters = st?.members.filter((m) => m.voter).length ?? 0;
      if (voters === this.specs.length) return;
      await sleep(200);
    }
    throw new Error(`the ${this.specs.length} nodes did not all become voters within ${timeoutMs} ms (see the node logs)`);
  }

  /**
   * Wait until every node is up and agrees on one leader and term, and has applied everything
   * the leader has committed. Returns the final statuses; throws after `timeoutMs`.
   */
  async waitConverged(timeoutMs: number): Promise<Map<string, NodeStatus>> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const all = await this.statuses();
      const leaders = [...all.values()].filter((s) => s.role === 'leader');
      const leader = leaders.length === 1 ? leaders[0]! : undefined;
      if (all.size === this.specs.length && leader !== undefined) {
        const agree = [...all.values()].every(
          (s) => s.leaderId === leader.id && s.term === leader.term && s.appliedIndex >= leader.commitIndex,
        );
        if (agree) return all;
      }
      last = [...all.values()].map((s) => `${s.id}:${s.role}/t${s.term}/c${s.commitIndex}/a${s.appliedIndex}`).join(' ');
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
