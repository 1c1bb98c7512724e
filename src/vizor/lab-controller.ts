/**
 * The lab's brain: turns a page's request ("stop node1", "isolate node2", "20 writes/s") into
 * signals to the node processes, iptables rules and HTTP calls, and reports what it did.
 *
 * Why it runs in the supervisor (`npm start -- --lab`) and not in a node: a stopped (SIGSTOP)
 * process cannot resume itself, and a killed one cannot restart itself; only the parent that
 * spawned them can. The nodes merely relay the page's requests here (lab-proxy.ts). "Time out
 * now" uses the existing leadership-transfer path: the leader sends TimeoutNow to the chosen
 * node, which campaigns at once with a higher term (Raft paper §3.10; for the leader itself, the
 * most caught-up follower is chosen) — no node code changes for the lab.
 */
import { GraftdError } from '../errors.ts';
import { vizorNow } from './clock.ts';
import { LabFirewall, type LinkFault, probeLabFirewall } from './lab-firewall.ts';
import { LabLoad } from './lab-load.ts';
import {
  DEFAULT_SLOW_LOSS,
  type LabLogEntry,
  type LabNodeState,
  type LabRequest,
  type LabResult,
  type LabState,
  type ProcessState,
} from './lab-protocol.ts';

export interface LabNode {
  readonly id: string;
  /** The node's own address (isolation rules match it). */
  readonly ip: string;
  readonly httpAddr: string;
  readonly raftAddr: string;
}

/** What the supervisor does to its child processes. */
export interface LabProcesses {
  state(id: string): ProcessState;
  signal(id: string, signal: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): void;
  /** Stop (gracefully if alive) and start again; resolves once the new process is spawned. */
  restart(id: string): Promise<void>;
}

/** One HTTP call to a node (credentials and TLS are the caller's business). */
export type LabHttp = (httpAddr: string, method: 'GET' | 'POST', path: string, body?: string) => Promise<{ status: number; text: string }>;

export interface LabControllerOptions {
  readonly nodes: readonly LabNode[];
  readonly processes: LabProcesses;
  readonly http: LabHttp;
  readonly electionTimeoutMs: number;
  readonly heartbeatMs: number;
  /** Skip the iptables probe and use this verdict (tests). */
  readonly network?: { readonly available: boolean; readonly reason: string };
  /** Action log entries kept. Default 50. */
  readonly maxLog?: number;
}

interface Outcome {
  readonly changed: boolean;
  readonly message: string;
}

export class LabController {
  readonly #o: LabControllerOptions;
  readonly #network: { readonly available: boolean; readonly reason: string };
  readonly #firewall: LabFirewall | undefined;
  readonly #load: LabLoad;
  readonly #log: LabLogEntry[] = [];

  constructor(options: LabControllerOptions) {
    this.#o = options;
    const ips = options.nodes.map((n) => n.ip);
    this.#network = options.network ?? probeLabFirewall(ips);
    this.#firewall = this.#network.available ? new LabFirewall(ips) : undefined;
    if (this.#firewall !== undefined) LabFirewall.removeAll(); // a crashed session's leftovers
    this.#load = new LabLoad({
      targets: () => options.nodes.filter((n) => options.processes.state(n.id) === 'running').map((n) => n.httpAddr),
      write: async (target, body) => (await options.http(target, 'POST', '/key', body)).status,
    });
  }

  state(): LabState {
    const faults = this.#firewall?.faults ?? new Map<string, LinkFault>();
    const nodes: LabNodeState[] = this.#o.nodes.map((n) => {
      const f = faults.get(n.ip);
      return {
        id: n.id,
        httpAddr: n.httpAddr,
        raftAddr: n.raftAddr,
        process: this.#o.processes.state(n.id),
        net: f === undefined ? 'ok' : f.kind,
        loss: f?.kind === 'slow' ? f.loss : 0,
      };
    });
    return {
      lab: true,
      electionTimeoutMs: this.#o.electionTimeoutMs,
      heartbeatMs: this.#o.heartbeatMs,
      nodes,
      network: this.#network,
      load: this.#load.state(),
      log: this.#log,
    };
  }

  /** Carry out one request; throws a GraftdError when it cannot be done (logged either way). */
  async act(req: LabRequest): Promise<LabResult> {
    const t = vizorNow();
    const node = req.action === 'load' ? '' : req.node;
    try {
      const out = await this.#do(req);
      this.#note({ t, action: req.action, node, ok: true, message: out.message });
      return { ...out, state: this.state() };
    } catch (err) {
      this.#note({ t, action: req.action, node, ok: false, message: (err as Error).message });
      throw err;
    }
  }

  /** Stop the load and remove every network fault (supervisor exit). Never throws. */
  close(): void {
    this.#load.stop();
    this.#firewall?.uninstall();
  }

  #note(e: LabLogEntry): void {
    this.#log.push(e);
    const max = this.#o.maxLog ?? 50;
    if (this.#log.length > max) this.#log.splice(0, this.#log.length - max);
  }

  #node(id: string): LabNode {
    const n = this.#o.nodes.find((x) => x.id === id);
    if (n === undefined) throw new GraftdError('GRAFTD_UNKNOWN_MEMBER', `the lab has no node ${id}`);
    return n;
  }

  async #do(req: LabRequest): Promise<Outcome> {
    if (req.action === 'load') {
      this.#load.setRate(req.rate);
      return { changed: true, message: req.rate === 0 ? 'client load off' : `client load: ${req.rate} writes/s` };
    }
    const n = this.#node(req.node);
    const p = this.#o.processes;
    const st = p.state(n.id);
    switch (req.action) {
      case 'stop':
        if (st !== 'running') return { changed: false, message: `${n.id} is ${st}; nothing to stop` };
        p.signal(n.id, 'SIGSTOP');
        return { changed: true, message: `${n.id} stopped (SIGSTOP): it keeps its state but answers nothing` };
      case 'resume':
        if (st !== 'stopped') return { changed: false, message: `${n.id} is ${st}; nothing to resume` };
        p.signal(n.id, 'SIGCONT');
        return { changed: true, message: `${n.id} resumed (SIGCONT)` };
      case 'kill':
        if (st === 'dead') return { changed: false, message: `${n.id} is already dead` };
        p.signal(n.id, 'SIGKILL');
        return { changed: true, message: `${n.id} killed (kill -9): restart it to see it recover from its disk` };
      case 'restart':
        await p.restart(n.id);
        return { changed: true, message: `${n.id} restarting on its data directory (starting until it answers)` };
      case 'timeout':
        return this.#timeoutNow(n);
      case 'isolate':
      case 'slow':
      case 'heal':
        return this.#network_(n, req.action, req.action === 'slow' ? (req.loss ?? DEFAULT_SLOW_LOSS) : 1);
    }
  }

  #network_(n: LabNode, action: 'isolate' | 'slow' | 'heal', loss: number): Outcome {
    if (this.#firewall === undefined) throw new GraftdError('GRAFTD_UNAVAILABLE', this.#network.reason);
    const before = this.#firewall.faults.get(n.ip);
    if (action === 'heal') {
      if (before === undefined) return { changed: false, message: `${n.id}'s links are healthy; nothing to heal` };
      this.#firewall.set(n.ip, undefined);
      return { changed: true, message: `${n.id}'s links healed` };
    }
    this.#firewall.set(n.ip, action === 'isolate' ? { kind: 'isolated' } : { kind: 'slow', loss });
    return action === 'isolate'
      ? { changed: true, message: `${n.id} isolated: every packet between it and the other nodes is dropped` }
      : { changed: true, message: `${n.id}'s links lose ${Math.round(loss * 100)}% of their packets (TCP resends them late)` };
  }

  async #status(n: LabNode): Promise<{ role: string; leaderId: string; term: number } | undefined> {
    if (this.#o.processes.state(n.id) !== 'running') return undefined;
    try {
      const r = await this.#o.http(n.httpAddr, 'GET', '/status');
      return r.status === 200 ? (JSON.parse(r.text) as { role: string; leaderId: string; term: number }) : undefined;
    } catch {
      return undefined;
    }
  }

  async #timeoutNow(n: LabNode): Promise<Outcome> {
    const st = this.#o.processes.state(n.id);
    if (st !== 'running') throw new GraftdError('GRAFTD_UNAVAILABLE', `${n.id} is ${st}: only a running node can time out`);
    const statuses = await Promise.all(this.#o.nodes.map(async (x) => ({ node: x, s: await this.#status(x) })));
    const leader = statuses.find((x) => x.s?.role === 'leader');
    if (leader === undefined)
      throw new GraftdError(
        'GRAFTD_NO_LEADER',
        'no leader is known right now: an election is already under way (or the cluster lacks a quorum)',
      );
    const toSelf = leader.node.id === n.id;
    // The leader's own "time out" hands over to the most caught-up follower; a follower is named as the target.
    const r = await this.#o.http(leader.node.httpAddr, 'POST', '/transfer-leader', toSelf ? '{}' : JSON.stringify({ id: n.id }));
    let body: { leader?: string; error?: string; code?: string } = {};
    try {
      body = JSON.parse(r.text) as typeof body;
    } catch {
      // keep the empty body
    }
    if (r.status !== 200) {
      throw new GraftdError(
        'GRAFTD_UNAVAILABLE',
        `${leader.node.id} (leader) could not hand over: ${r.status} ${body.code ?? ''} ${body.error ?? r.text.slice(0, 200)}`.trim(),
      );
    }
    const term = leader.s?.term ?? 0;
    return toSelf
      ? { changed: true, message: `${n.id} (leader) timed out: ${body.leader ?? 'a follower'} got TimeoutNow and won term ${term + 1}` }
      : { changed: true, message: `${n.id} timed out (TimeoutNow from ${leader.node.id}) and campaigned for term ${term + 1}` };
  }
}
