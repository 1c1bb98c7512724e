/**
 * A test helper that runs real graftd processes (bin/graftd) on loopback addresses.
 *
 * Why shared: the integration, graftctl/operations, chaos and live-view tests all need to
 * start, stop, kill and restart nodes and wait for a leader. Every test passes its own
 * addresses (its allocated 127.0.0.x and port range), so test files never collide.
 *
 * Usage:
 * ```ts
 * const c = new Cluster({ ips: ['127.0.0.31'], httpPortBase: 15000, raftPortBase: 16000 });
 * try {
 *   await c.startNode('n0');                      // bootstraps (no -join)
 *   await c.startNode('n1', { join: 'n0' });      // joins through n0's HTTP address
 *   const leader = await c.waitForLeader();       // id of the leader every live node agrees on
 *   await c.post('n1', '/key', { a: '1' });
 *   await c.kill('n0');                           // SIGKILL; c.stop('n0') sends SIGTERM
 *   await c.startNode('n0');                      // restart on the same data dir
 * } finally {
 *   await c.destroy();                            // kills what is left, removes the temp dir
 * }
 * ```
 * Node `k` (in start order of first use) gets ip `ips[k % ips.length]`, HTTP port
 * `httpPortBase + k` and raft port `raftPortBase + k`; a node keeps its addresses and data
 * dir across restarts. Each node's stderr (JSON logs) goes to `<root>/<id>.log`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Path of the server command. */
export const GRAFTD_BIN = resolve(import.meta.dirname, '../../bin/graftd');

export interface ClusterOptions {
  /** Loopback addresses to use, assigned round-robin to nodes. */
  readonly ips: readonly string[];
  readonly httpPortBase: number;
  readonly raftPortBase: number;
  /** Extra env for every node (e.g. SNAPSHOT_THRESHOLD). Defaults make elections fast: HEARTBEAT_TIMEOUT=50, ELECTION_TIMEOUT=500, LOG_LEVEL=info. */
  readonly env?: Readonly<Record<string, string>>;
  /** Parent of the temp root directory; default os.tmpdir(). */
  readonly tmpParent?: string;
}

export interface StartOptions {
  /** Id of a node (or a HOST:PORT) to pass as -join. Omit to bootstrap / restart. */
  readonly join?: string;
  /** Extra env for this process. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra command-line arguments (before the data dir). */
  readonly args?: readonly string[];
  /** Wait until GET /healthz answers (default true). Set false for processes expected to exit. */
  readonly waitHealthy?: boolean;
}

/** One node's fixed addresses and data dir. */
export interface NodeInfo {
  readonly id: string;
  readonly ip: string;
  readonly httpAddr: string;
  readonly raftAddr: string;
  readonly dataDir: string;
  readonly logFile: string;
}

/** A running (or exited) graftd process. */
export interface NodeProcess {
  readonly info: NodeInfo;
  readonly child: ChildProcess;
  /** Resolves when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Captured stdout (bounded to 64 KiB). */
  stdout(): string;
}

/** The default env every node gets (fast timings for tests). */
export const TEST_ENV: Readonly<Record<string, string>> = { HEARTBEAT_TIMEOUT: '50', ELECTION_TIMEOUT: '500', LOG_LEVEL: 'info' };

const MAX_STDOUT_CHARS = 64 * 1024;

/** Spawn bin/graftd with the given arguments; stderr is appended to `logFile`. */
export function spawnGraftd(args: readonly string[], env: Readonly<Record<string, string>>, logFile: string, info: NodeInfo): NodeProcess {
  const child = spawn(process.execPath, [GRAFTD_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stderr?.pipe(log);
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (s: string) => {
    out = (out + s).slice(-MAX_STDOUT_CHARS);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('exit', (code, signal) => res({ code, signal }));
  });
  return { info, child, exited, stdout: () => out };
}

/** A set of graftd processes sharing one temp root. */
export class Cluster {
  readonly root: string;
  readonly #opts: ClusterOptions;
  readonly #infos = new Map<string, NodeInfo>();
  readonly #procs = new Map<string, NodeProcess>();

  constructor(options: ClusterOptions) {
    if (options.ips.length === 0) throw new Error('Cluster needs at least one ip');
    this.#opts = options;
    this.root = mkdtempSync(joinPath(options.tmpParent ?? tmpdir(), 'graftd-it-'));
  }

  /** Addresses and data dir of `id` (allocated on first use). */
  info(id: string): NodeInfo {
    let info = this.#infos.get(id);
    if (info === undefined) {
      const k = this.#infos.size;
      const ip = this.#opts.ips[k % this.#opts.ips.length]!;
      info = {
        id,
        ip,
        httpAddr: `${ip}:${this.#opts.httpPortBase + k}`,
        raftAddr: `${ip}:${this.#opts.raftPortBase + k}`,
        dataDir: joinPath(this.root, id),
        logFile: joinPath(this.root, `${id}.log`),
      };
      this.#infos.set(id, info);
    }
    return info;
  }

  /** Base URL of `id`'s HTTP API, e.g. http://127.0.0.31:15000. */
  url(id: string): string {
    return `http://${this.info(id).httpAddr}`;
  }

  /** The running process of `id`, if any. */
  process(id: string): NodeProcess | undefined {
    return this.#procs.get(id);
  }

  /** Ids of nodes whose process is running. */
  running(): string[] {
    return [...this.#procs.entries()].filter(([, p]) => p.child.exitCode === null && p.child.signalCode === null).map(([id]) => id);
  }

  /** Start (or restart) node `id`. Resolves once /healthz answers (unless waitHealthy is false). */
  async startNode(id: string, options: StartOptions = {}): Promise<NodeProcess> {
    const info = this.info(id);
    const prev = this.#procs.get(id);
    if (prev !== undefined && prev.child.exitCode === null && prev.child.signalCode === null)
      throw new Error(`node ${id} is already running`);
    const args = ['-id', id, '-haddr', info.httpAddr, '-raddr', info.raftAddr];
    if (options.join !== undefined) {
      const target = this.#infos.has(options.join) ? this.info(options.join).httpAddr : options.join;
      args.push('-join', target);
    }
    args.push(...(options.args ?? []), info.dataDir);
    const proc = spawnGraftd(args, { ...TEST_ENV, ...this.#opts.env, ...options.env }, info.logFile, info);
    this.#procs.set(id, proc);
    if (options.waitHealthy !== false) await this.waitHealthy(id);
    return proc;
  }

  /** Wait until `id` answers GET /healthz (throws if the process exits first or after timeoutMs). */
  async waitHealthy(id: string, timeoutMs = 20_000): Promise<void> {
    const proc = this.#procs.get(id);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc !== undefined && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
        throw new Error(
          `node ${id} exited (${proc.child.exitCode ?? proc.child.signalCode}) before becoming healthy; log: ${this.logTail(id)}`,
        );
      }
      const res = await this.tryFetch(id, '/healthz');
      if (res?.status === 200) return;
      await sleep(50);
    }
    throw new Error(`node ${id} not healthy within ${timeoutMs} ms; log: ${this.logTail(id)}`);
  }

  /** SIGTERM `id` and wait for it to exit; returns the exit code. */
  async stop(id: string, timeoutMs = 15_000): Promise<number | null> {
    return this.#signal(id, 'SIGTERM', timeoutMs);
  }

  /** SIGKILL `id` and wait for it to exit. */
  async kill(id: string): Promise<void> {
    await this.#signal(id, 'SIGKILL', 10_000);
  }

  async #signal(id: string, signal: NodeJS.Signals, timeoutMs: number): Promise<number | null> {
    const proc = this.#procs.get(id);
    if (proc === undefined) return null;
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
    const { code } = await proc.exited;
    clearTimeout(timer);
    return code;
  }

  /** GET /status of `id` (undefined when unreachable). */
  async status(id: string): Promise<Record<string, unknown> | undefined> {
    const res = await this.tryFetch(id, '/status');
    if (res === undefined || res.status !== 200) return undefined;
    return (await res.json()) as Record<string, unknown>;
  }

  /**
   * Wait until every running node (or those in `among`) reports the same leader, which is
   * itself running and reports role 'leader'. Returns the leader's id.
   */
  async waitForLeader(options: { among?: readonly string[]; timeoutMs?: number; not?: string } = {}): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    let last = '';
    while (Date.now() < deadline) {
      const ids = options.among ?? this.running();
      const statuses = await Promise.all(ids.map((id) => this.status(id)));
      const leaders = new Set(statuses.map((s) => (s === undefined ? '?' : String(s.leaderId))));
      last = JSON.stringify(statuses.map((s) => s && { id: s.id, role: s.role, leaderId: s.leaderId, term: s.term }));
      const [leader] = [...leaders];
      if (leaders.size === 1 && leader !== undefined && leader !== '' && leader !== '?' && leader !== options.not) {
        const ls = ids.includes(leader) ? statuses[ids.indexOf(leader)] : await this.status(leader);
        if (ls?.role === 'leader') return leader;
      }
      await sleep(100);
    }
    throw new Error(`no agreed leader within the timeout; last statuses: ${last}`);
  }

  /**
   * The usual three-voter start: `first` founds the cluster and leads, the others join through it,
   * and this resolves once `first` reports them all as voters (learners promoted). `start` starts
   * one node (default: startNode); tests with their own launch options pass it.
   */
  async startVoters(
    [first, ...others]: readonly [string, ...string[]],
    options: { timeoutMs?: number; start?: (id: string, join?: string) => Promise<unknown> } = {},
  ): Promise<void> {
    const start = options.start ?? ((id: string, join?: string) => this.startNode(id, join === undefined ? {} : { join }));
    await start(first);
    await this.waitForLeader();
    for (const id of others) await start(id, first);
    const voters = others.length + 1;
    await this.waitStatus(first, (s) => (s.members as { voter: boolean }[]).filter((m) => m.voter).length === voters, options.timeoutMs);
  }

  /** Wait until `pred(status)` holds for node `id`. */
  async waitStatus(id: string, pred: (s: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    let last: Record<string, unknown> | undefined;
    while (Date.now() < deadline) {
      last = await this.status(id);
      if (last !== undefined && pred(last)) return last;
      await sleep(100);
    }
    throw new Error(`status of ${id} did not match within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
  }

  /** fetch() against node `id`; undefined when the connection fails. */
  async tryFetch(id: string, path: string, init?: RequestInit): Promise<Response | undefined> {
    try {
      return await fetch(this.url(id) + path, { ...init, signal: AbortSignal.timeout(15_000) });
    } catch {
      return undefined;
    }
  }

  /** POST a JSON body to `id`; returns status and parsed body text. */
  async post(id: string, path: string, body: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(this.url(id) + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, text: await res.text() };
  }

  /** GET a path on `id`; returns status and body text. */
  async get(id: string, path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(this.url(id) + path, { signal: AbortSignal.timeout(15_000) });
    return { status: res.status, text: await res.text() };
  }

  /** The last `chars` characters of `id`'s log file. */
  logTail(id: string, chars = 2000): string {
    try {
      return readFileSync(this.info(id).logFile, 'utf8').slice(-chars);
    } catch {
      return '(no log)';
    }
  }

  /** Kill every running node and remove the temp root (keep it with KEEP_TEST_DATA=1). */
  async destroy(): Promise<void> {
    await Promise.all([...this.#procs.keys()].map((id) => this.kill(id)));
    if (process.env.KEEP_TEST_DATA !== '1') rmSync(this.root, { recursive: true, force: true });
  }
}
