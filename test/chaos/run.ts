/**
 * One chaos run, end to end: start the cluster, run clients and the fault schedule, heal,
 * wait for recovery, do the final reads, compare replicas, stop, check the history, report.
 *
 * Why a class with separate phases: the random-fault CLI runs the phases back to back, while
 * scripted tests (split brain) drive the faults themselves between `setup` and `finish` and
 * still get the same history, final reads, divergence check, checker and artifacts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CheckReport, KeyResult } from '../../src/check/checker.ts';
import { checkHistory } from '../../src/check/checker.ts';
import type { OpKind } from '../../src/check/history.ts';
import { formatHistory, operationsToEvents } from '../../src/check/history.ts';
import type { AddonName, AddonResult, RunAddon } from './addons.ts';
import { addonNodeEnv, createAddons } from './addons.ts';
import { registerCleanup } from './cleanup.ts';
import type { FaultContext, FaultName, ScheduleOptions } from './faults.ts';
import { describeFaultList, isNetworkFault, runSchedule } from './faults.ts';
import { Firewall, probeFirewall } from './firewall.ts';
import type { Outcome } from './http-ops.ts';
import { NodeClients } from './http-ops.ts';
import { acquireChaosLock } from './lock.ts';
import type { MembershipContext } from './membership.ts';
import { settleMembership, stopStrays } from './membership.ts';
import { CHAOS_NODE_ENV, ChaosCluster, layoutNodes, MAX_SLOTS } from './nodes.ts';
import { Rng } from './prng.ts';
import type { FaultWindow } from './recorder.ts';
import { Recorder } from './recorder.ts';
import { ChaosSecurity, harnessFetch, schemeOf } from './security.ts';
import { renderTimeline } from './timeline-html.ts';
import type { WorkloadOptions } from './workload.ts';
import { DEFAULT_WORKLOAD, Workload } from './workload.ts';

/** Where run directories go by default. */
export const ARTIFACTS_DIR = resolve(import.meta.dirname, '../../artifacts/chaos');

/** Everything that shapes one run. */
export interface RunOptions {
  readonly nodes: number;
  readonly durationS: number;
  readonly seed: number;
  readonly faults: readonly FaultName[];
  readonly artifactsDir?: string;
  readonly workload?: Partial<WorkloadOptions>;
  /** GRAFTD_TEST_FAULT for every node: deliberately break the server (bug-detection tests). */
  readonly testFault?: string;
  /** Extra env for the nodes (overrides CHAOS_NODE_ENV). */
  readonly nodeEnv?: Readonly<Record<string, string>>;
  /** Client-side request timeout; past it the outcome is unknown (default 3000). */
  readonly requestTimeoutMs?: number;
  readonly schedule?: ScheduleOptions;
  /** Checker search time per key (default 10 000). */
  readonly searchTimeoutMs?: number;
  /** How long to wait for another chaos run on this machine to finish (default 30 minutes). */
  readonly lockTimeoutMs?: number;
  /** Time allowed to start the cluster and, after healing, to converge (default 60 000). */
  readonly recoveryTimeoutMs?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /**
   * Secure mode (default false): material under `<runDir>/secure`, every node with peer TLS,
   * HTTPS, the cluster secret and an auth file; every harness call over https as the admin.
   */
  readonly secure?: boolean;
  /** Spare slots for members added during the run (default: 2 when `faults` has `membership`, else 0; at most 7 slots in all). */
  readonly spares?: number;
  /** Extra checkers beside the register workload (test/chaos/addons.ts): `watch`, `lock`. */
  readonly addons?: readonly AddonName[];
}

/** How many spare slots a run gets. */
export function sparesFor(o: Pick<RunOptions, 'nodes' | 'faults' | 'spares'>): number {
  return Math.min(o.spares ?? (o.faults.includes('membership') ? 2 : 0), MAX_SLOTS - o.nodes);
}

/** The outcome of one run. */
export interface RunReport {
  readonly seed: number;
  readonly nodes: number;
  readonly runDir: string;
  readonly replay: string;
  readonly counts: CheckReport['counts'];
  readonly keys: readonly KeyResult[];
  /** Failing keys + replica divergences + a failed recovery. */
  readonly violations: number;
  readonly lostWrites: number;
  readonly unknown: number;
  /** Replica differences found after convergence (each also counted as a violation). */
  readonly divergences: readonly string[];
  readonly faults: readonly FaultWindow[];
  /** Why network faults were skipped, if they were. */
  readonly networkSkipped: string | undefined;
  /** Packets the firewall rules dropped over the run (undefined without a firewall). */
  readonly droppedPackets: number | undefined;
  /** Set when the cluster failed to recover or the harness failed (counted as a violation). */
  readonly error: string | undefined;
  readonly timelineFile: string | undefined;
  /** What the extra checkers found (their violations are counted in `violations`). */
  readonly addons: readonly AddonResult[];
}

export const DEFAULT_SCHEDULE: ScheduleOptions = { quietMs: [1000, 3000], holdMs: [2000, 5000] };

/** The command that replays a run. */
export function replayCommand(
  o: Pick<RunOptions, 'nodes' | 'durationS' | 'seed' | 'faults' | 'testFault' | 'secure' | 'workload' | 'addons'>,
): string {
  const faults = describeFaultList(o.faults);
  const bug = o.testFault === undefined || o.testFault === '' ? '' : ` --test-fault ${o.testFault}`;
  const secure = o.secure === true ? ' --secure' : '';
  const lease = o.workload?.leaseReads === false ? ' --no-lease-reads' : '';
  const addons = o.addons === undefined || o.addons.length === 0 ? '' : ` --check ${o.addons.join(',')}`;
  const kind = o.workload?.kind === undefined || o.workload.kind === 'register' ? '' : ` --workload ${o.workload.kind}`;
  return `npm run chaos -- --nodes ${o.nodes} --duration ${o.durationS} --seed ${o.seed} --faults ${faults} --runs 1${bug}${secure}${lease}${addons}${kind}`;
}

/** A run in progress. */
export class ChaosRun {
  readonly options: RunOptions;
  readonly runDir: string;
  readonly recorder: Recorder;
  readonly cluster: ChaosCluster;
  readonly firewall: Firewall | undefined;
  readonly networkSkipped: string | undefined;
  readonly clients: NodeClients;
  readonly workload: Workload;
  readonly rng: Rng;
  readonly faults: FaultName[];
  /** The nodes' ELECTION_TIMEOUT (ms): the long pause holds a multiple of it. */
  readonly electionTimeoutMs: number;
  /** The extra checkers (set up by `setup`). */
  addons: readonly RunAddon[] = [];
  readonly #log: (line: string) => void;
  readonly #unregisterFirewall: () => void;
  readonly #unregisterFlush: () => void;
  #runLog: string[] = [];
  #tornDown = false;
  #releaseLock: () => void = () => {};

  private constructor(options: RunOptions, runDir: string, security: ChaosSecurity | undefined) {
    this.options = options;
    this.#log = options.log ?? (() => {});
    this.runDir = runDir;
    this.recorder = new Recorder(join(this.runDir, 'history.jsonl'));
    const recorder = this.recorder;
    this.#unregisterFlush = registerCleanup(() => recorder.flush());
    this.rng = new Rng(options.seed);
    const specs = layoutNodes(options.nodes, this.runDir, sparesFor(options));
    const env: Record<string, string> = { ...CHAOS_NODE_ENV, ...addonNodeEnv(options.addons ?? []), ...options.nodeEnv };
    if (options.testFault !== undefined && options.testFault !== '') env.GRAFTD_TEST_FAULT = options.testFault;
    this.electionTimeoutMs = Number(env.ELECTION_TIMEOUT ?? 500) || 500;
    this.cluster = new ChaosCluster(specs, env, (line) => this.note(line), security, options.nodes);

    const wantsNetwork = options.faults.some(isNetworkFault);
    const probe = probeFirewall();
    if (probe.available) {
      this.firewall = new Firewall(specs.map((s) => s.ip));
      this.networkSkipped = undefined;
    } else {
      this.firewall = undefined;
      this.networkSkipped = wantsNetwork ? `network faults skipped: ${probe.reason} (process faults still run)` : undefined;
    }
    const fw = this.firewall;
    this.#unregisterFirewall = registerCleanup(() => fw?.uninstall());
    this.faults = options.faults.filter((f) => this.firewall !== undefined || !isNetworkFault(f));

    const requestTimeoutMs = options.requestTimeoutMs ?? 3000;
    this.clients = new NodeClients(new Map(specs.map((s) => [s.id, s.httpAddr])), requestTimeoutMs, security);
    // Clients talk to every member and to every other slot with a process (a removed node that has
    // not noticed yet must not answer anything wrong either).
    const cluster = this.cluster;
    const targets = (): string[] => {
      const running = new Set(cluster.running());
      return specs.filter((s) => running.has(s.id) || cluster.isMember(s.id)).map((s) => s.id);
    };
    this.workload = new Workload(this.recorder, this.clients, targets, this.rng.fork(1), { ...DEFAULT_WORKLOAD, ...options.workload });
  }

  /** A line for the run log (run.log in the run directory), stamped with the run time. */
  note(line: string): void {
    const text = `${(this.recorder.now() / 1000).toFixed(2)}s ${line}`;
    this.#runLog.push(text);
  }

  /** Create the run directory, install the firewall chain, start the nodes and wait for a full cluster. */
  static async setup(options: RunOptions): Promise<ChaosRun> {
    const release = await acquireChaosLock(options.lockTimeoutMs ?? 30 * 60_000, options.log ?? (() => {}));
    const unregisterLock = registerCleanup(release);
    let run: ChaosRun;
    try {
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
      const runDir = join(
        options.artifactsDir ?? ARTIFACTS_DIR,
        `${stamp}-n${options.nodes}-s${options.seed}${options.secure === true ? '-secure' : ''}`,
      );
      mkdirSync(runDir, { recursive: true });
      let security: ChaosSecurity | undefined;
      if (options.secure === true) {
        const specs = layoutNodes(options.nodes, runDir, sparesFor(options));
        security = await ChaosSecurity.create(
          join(runDir, 'secure'),
          specs.map((s) => s.id),
          specs.map((s) => s.ip),
        );
      }
      run = new ChaosRun(options, runDir, security);
      run.addons = await createAddons(options.addons ?? [], run);
    } catch (err) {
      unregisterLock();
      throw err;
    }
    run.#releaseLock = unregisterLock;
    try {
      run.firewall?.install();
      if (run.networkSkipped !== undefined) run.#log(`  ${run.networkSkipped}`);
      await run.cluster.startAll(options.recoveryTimeoutMs ?? 60_000);
      run.note('cluster formed');
    } catch (err) {
      await run.#teardown();
      throw err;
    }
    return run;
  }

  /** What membership steps need (admin calls go through the clients' pools; `rng` is the caller's). */
  membershipContext(rng: Rng): MembershipContext {
    return {
      cluster: this.cluster,
      clients: this.clients,
      rng,
      baseSize: this.options.nodes,
      log: (line) => {
        this.note(line.trim());
        this.#log(`  ${line}`);
      },
    };
  }

  /** The context faults act in (`rng`: a fork of the run's generator). */
  faultContext(rng: Rng): FaultContext {
    const others = this.faults.filter((f) => f !== 'membership');
    const log = (line: string): void => {
      this.note(line.trim());
      this.#log(line);
    };
    return {
      cluster: this.cluster,
      firewall: this.firewall,
      rng,
      recorder: this.recorder,
      electionTimeoutMs: this.electionTimeoutMs,
      membership: this.membershipContext(rng.fork(7)),
      ...(others.length > 0 ? { background: others } : {}),
      log,
    };
  }

  /** Start the clients, run the seeded fault schedule for the run's duration, then stop the clients. */
  async runRandomFaults(): Promise<void> {
    const until = this.recorder.now() + this.options.durationS * 1000;
    for (const a of this.addons) a.start();
    this.workload.start();
    const ctx = this.faultContext(this.rng.fork(2));
    await runSchedule(ctx, this.faults, until, this.options.schedule ?? DEFAULT_SCHEDULE, ctx.log ?? (() => {}));
    const left = until - this.recorder.now();
    if (left > 0) await sleep(left);
    await this.workload.stop();
    await Promise.all(this.addons.map((a) => a.stopLoad()));
  }

  /**
   * One recorded operation outside the random workload (scripted tests), as client `process`
   * (use numbers ≥ 1000 to stay apart from the workload's clients). The history check covers it.
   */
  async perform(process: number, node: string, op: OpKind, key: string, value: string | null = null): Promise<Outcome> {
    this.workload.noteKey(key);
    this.recorder.record('invoke', process, op, key, value, { node });
    const out = await this.clients.perform(node, op, key, value);
    this.recorder.record(out.type, process, op, key, op === 'read' ? (out.type === 'ok' ? out.value : null) : value, {
      node,
      ...(out.error === undefined ? {} : { error: out.error }),
    });
    return out;
  }

  /** Heal everything: drop all rules, resume paused processes, restart dead members (removed nodes stay down). */
  healAll(): void {
    this.firewall?.heal();
    for (const s of this.cluster.specs) {
      if (this.cluster.isPaused(s.id)) this.cluster.resume(s.id);
      if (this.cluster.isMember(s.id) && !this.cluster.isAlive(s.id)) this.cluster.restart(s.id);
    }
  }

  /** Linearizable reads of every key used, marked final, retried until each succeeds (bounded). */
  async finalReads(keys: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    const process = 1_000_000;
    const rng = this.rng.fork(3);
    for (const key of keys) {
      let done = false;
      for (let attempt = 0; attempt < 30 && !done; attempt++) {
        const node = rng.pick(this.cluster.responsive());
        this.recorder.record('invoke', process, 'read', key, null, { final: true, node });
        const out = await this.clients.perform(node, 'read', key, null);
        this.recorder.record(out.type, process, 'read', key, out.type === 'ok' ? out.value : null, {
          node,
          ...(out.error === undefined ? {} : { error: out.error }),
        });
        done = out.type === 'ok';
        if (!done) await sleep(200);
      }
      if (!done) missing.push(key);
    }
    return missing;
  }

  /** Compare every node's local (stale) view of every key, and their statuses; returns the differences. */
  async compareReplicas(keys: readonly string[]): Promise<string[]> {
    const statuses = await this.cluster.waitConverged(this.options.recoveryTimeoutMs ?? 60_000);
    const diffs: string[] = [];
    const applied = new Set([...statuses.values()].map((s) => s.appliedIndex));
    const counts = new Set([...statuses.values()].map((s) => s.keys));
    if (counts.size > 1)
      diffs.push(`nodes hold different numbers of keys: ${[...statuses.values()].map((s) => `${s.id}=${s.keys}`).join(' ')}`);
    const memberViews = [...statuses.values()].map((s) => ({
      id: s.id,
      view: s.members
        .map((m) => `${m.id}${m.voter ? '' : '(learner)'}`)
        .sort()
        .join(','),
    }));
    if (new Set(memberViews.map((m) => m.view)).size > 1) {
      diffs.push(`nodes disagree on the membership: ${memberViews.map((m) => `${m.id}=[${m.view}]`).join(' ')}`);
    }
    const ids = this.cluster.memberIds();
    for (const key of keys) {
      const seen = new Map<string, string>();
      for (const id of ids) {
        let v = '?';
        try {
          const url = `${schemeOf(this.cluster.security)}://${this.cluster.spec(id).httpAddr}/key/${encodeURIComponent(key)}?level=stale`;
          const res = await harnessFetch(this.cluster.security, url, AbortSignal.timeout(2000));
          const body = await res.text();
          v =
            res.status === 200
              ? JSON.stringify((JSON.parse(body) as Record<string, string>)[key])
              : res.status === 404
                ? 'absent'
                : `HTTP ${res.status}`;
        } catch (err) {
          v = `error ${(err as Error).name}`;
        }
        seen.set(id, v);
      }
      if (new Set(seen.values()).size > 1) {
        const where = applied.size > 1 ? ' (applied indexes differ, may be in flight)' : '';
        diffs.push(`replicas disagree on ${key}${where}: ${[...seen].map(([id, v]) => `${id}=${v}`).join(' ')}`);
      }
    }
    return diffs;
  }

  /** Stop clients, heal, wait for recovery, final reads, replica comparison, stop the nodes, check, write artifacts. */
  async finish(): Promise<RunReport> {
    const o = this.options;
    await this.workload.stop();
    await Promise.all(this.addons.map((a) => a.stopLoad()));
    let error: string | undefined;
    let divergences: string[] = [];
    try {
      this.healAll();
      this.note('healed everything');
      const gap = await settleMembership(this.membershipContext(this.rng.fork(4)), o.recoveryTimeoutMs ?? 60_000);
      if (gap !== '') this.note(`membership not settled: ${gap}`);
      // Removed nodes get a moment to notice their removal and exit on their own; the rest are stopped.
      if (this.cluster.running().some((id) => !this.cluster.isMember(id))) await sleep(1000);
      const strays = await stopStrays(this.cluster);
      if (strays.length > 0) this.note(`stopped removed node(s) still running: ${strays.join(', ')}`);
      await this.cluster.waitConverged(o.recoveryTimeoutMs ?? 60_000);
      this.note('converged');
      const keys = this.workload.keysUsed();
      const missing = await this.finalReads(keys);
      if (missing.length > 0) error = `final reads failed for ${missing.length} key(s): ${missing.slice(0, 5).join(', ')}`;
      divergences = await this.compareReplicas(keys);
      for (const a of this.addons) await a.settle();
    } catch (err) {
      error = `recovery failed after healing: ${(err as Error).message}`;
    }
    await this.#teardown();
    this.recorder.flush();
    const check = checkHistory(this.recorder.events, { searchTimeoutMs: o.searchTimeoutMs ?? 10_000 });
    const addons = this.addons.map((a) => a.check());
    const addonViolations = addons.reduce((n, a) => n + a.violations.length, 0);
    const violations = check.violations + divergences.length + (error === undefined ? 0 : 1) + addonViolations;
    let timelineFile: string | undefined;
    const failing = check.keys.filter((k) => k.verdict === 'fail');
    if (violations > 0) {
      timelineFile = join(this.runDir, 'timeline.html');
      writeFileSync(
        timelineFile,
        renderTimeline({ title: `graftd chaos seed ${o.seed}`, events: this.recorder.events, faults: this.recorder.faults, failing }),
      );
      for (const k of failing) writeFileSync(join(this.runDir, `failing-${k.key}.jsonl`), formatHistory(operationsToEvents(k.failing)));
    }
    const report: RunReport = {
      seed: o.seed,
      nodes: o.nodes,
      runDir: this.runDir,
      replay: replayCommand(o),
      counts: check.counts,
      keys: check.keys,
      violations,
      lostWrites: check.lostWrites,
      unknown: check.unknown,
      divergences,
      faults: this.recorder.faults,
      networkSkipped: this.networkSkipped,
      droppedPackets: this.firewall?.droppedPackets,
      error,
      timelineFile,
      addons,
    };
    writeFileSync(join(this.runDir, 'run.log'), this.#runLog.join('\n') + '\n');
    writeFileSync(
      join(this.runDir, 'report.json'),
      JSON.stringify({ ...report, startedAtMs: this.recorder.startedAtMs, keys: check.keys.map(({ failing: _f, ...k }) => k) }, null, 2),
    );
    return report;
  }

  /** Tear down without checking (harness errors). */
  async abort(): Promise<void> {
    await this.#teardown();
  }

  async #teardown(): Promise<void> {
    if (this.#tornDown) return;
    this.#tornDown = true;
    await this.workload.stop();
    for (const a of this.addons) await a.close();
    await this.clients.close();
    await this.cluster.destroy();
    await this.cluster.security?.close();
    this.firewall?.uninstall();
    this.#unregisterFirewall();
    this.#unregisterFlush();
    this.#releaseLock();
  }
}

/** Run one complete random-fault run. */
export async function runChaos(options: RunOptions): Promise<RunReport> {
  const run = await ChaosRun.setup(options);
  try {
    await run.runRandomFaults();
  } catch (err) {
    await run.abort();
    throw err;
  }
  return run.finish();
}

/** Path relative to the working directory, for printing. */
export const shortPath = (p: string): string => relative(process.cwd(), p) || '.';
