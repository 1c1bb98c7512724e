/**
 * Starts and stops the local clusters the benchmark measures: 3 graftd processes
 * (bin/graftd) and, for comparison, 3 etcd processes, each with its own temp data dirs.
 *
 * Why here and not the integration test helper: the benchmark runs with production timings
 * and quiet logs, and must work from `npm run bench` without the test tree.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, fetch as undiciFetch } from 'undici';
import { type ClientSecurity, type SecurePart, benchSecurity } from './secure.ts';

/** The server command started for each node (bin/graftd unless told otherwise). */
export const defaultGraftdBin = resolve(import.meta.dirname, '../../bin/graftd');

export interface LocalCluster {
  /** HTTP base URLs, node 0 first. */
  readonly endpoints: readonly string[];
  readonly root: string;
  /** Set for a secure cluster: the CA and credentials its clients need. */
  readonly client?: ClientSecurity;
  /** SIGTERM every process, wait for exit (SIGKILL after a grace period), remove the temp dir unless `keep`. */
  stop(keep?: boolean): Promise<void>;
  /** Per-node control, for the scale run (restart, RSS). */
  readonly nodes: NodeControl;
}

/** Stop and start single members of a started cluster (same command line, same data dir). */
export interface NodeControl {
  /** How many nodes were started (including any added later). */
  count(): number;
  /** The process id of node `i` (undefined while it is stopped). */
  pid(i: number): number | undefined;
  /** The node's log file. */
  logFile(i: number): string;
  /** SIGTERM node `i` and wait until it exited (SIGKILL after the grace period). */
  stop(i: number): Promise<void>;
  /** Start node `i` again with the command line it was first started with. */
  start(i: number): void;
}

interface Proc {
  readonly name: string;
  /** How to start it again (restart keeps the data dir). */
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<void>;
}

/** Every process started here and not yet exited, so an interrupted benchmark leaves none behind. */
const live = new Set<ChildProcess>();

/** Temp roots of clusters not yet stopped (removed by `removeTempRoots` after an interrupt). */
const roots = new Set<string>();

/** Remove the temp dirs of clusters that were not stopped normally. */
export function removeTempRoots(): void {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
  roots.clear();
}

/** How many processes started here are still running. */
export function liveCount(): number {
  return live.size;
}

/** Set once the benchmark is interrupted: a cluster failing to start then keeps no temp dir. */
let interrupted = false;

/** Send `signal` to every process this module started that is still running (marks the run interrupted). */
export function signalAll(signal: NodeJS.Signals = 'SIGTERM'): number {
  interrupted = true;
  for (const child of live) child.kill(signal);
  return live.size;
}

function start(name: string, cmd: string, args: readonly string[], env: Record<string, string>, root: string): Proc {
  const logFile = join(root, `${name}.log`);
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  live.add(child);
  const exited = new Promise<void>((res) =>
    child.once('exit', () => {
      live.delete(child);
      res();
    }),
  );
  return { name, cmd, args, env, child, logFile, exited };
}

/** Node control over `procs` (entries replaced on restart). */
function control(procs: Proc[], root: string, graceMs = 10_000): NodeControl {
  return {
    count: () => procs.length,
    pid: (i) => (procs[i] !== undefined && alive(procs[i]) ? procs[i].child.pid : undefined),
    logFile: (i) => procs[i]!.logFile,
    async stop(i) {
      const p = procs[i]!;
      if (alive(p)) p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    },
    start(i) {
      const p = procs[i]!;
      if (alive(p)) throw new Error(`${p.name} is still running`);
      procs[i] = start(p.name, p.cmd, p.args, p.env, root);
    },
  };
}

function alive(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

function tail(p: Proc, chars = 1500): string {
  try {
    return readFileSync(p.logFile, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

/** How the readiness checks reach a secure cluster (undefined: plain http, global fetch as before). */
export interface SecureGet {
  readonly agent: Agent;
  readonly headers: Record<string, string>;
}

/** A secure-cluster GET: https trusting the CA, with credentials. */
export function secureGet(client: ClientSecurity): SecureGet {
  return {
    agent: new Agent(client.ca === undefined ? {} : { connect: { ca: client.ca } }),
    headers: client.authorization === undefined ? {} : { authorization: client.authorization },
  };
}

/** `https` when the nodes serve HTTPS. */
export function schemeFor(client: ClientSecurity | undefined): 'http' | 'https' {
  return client?.ca === undefined ? 'http' : 'https';
}

export async function getJson(url: string, init?: RequestInit, secure?: SecureGet): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const res =
      secure === undefined
        ? await fetch(url, { ...init, signal: AbortSignal.timeout(2000) })
        : await undiciFetch(url, {
            dispatcher: secure.agent,
            headers: secure.headers,
            signal: AbortSignal.timeout(2000),
          });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body };
  } catch {
    return undefined;
  }
}

async function waitFor(what: string, procs: readonly Proc[], timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = procs.find((p) => !alive(p));
    if (dead !== undefined) throw new Error(`${dead.name} exited while waiting for ${what}; log tail:\n${tail(dead)}`);
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}; log tails:\n${procs.map((p) => `--- ${p.name}\n${tail(p)}`).join('\n')}`,
  );
}

async function stopAll(procs: readonly Proc[], root: string, keep: boolean, graceMs = 10_000): Promise<void> {
  for (const p of procs) if (alive(p)) p.child.kill('SIGTERM');
  await Promise.all(
    procs.map(async (p) => {
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    }),
  );
  roots.delete(root);
  if (!keep) rmSync(root, { recursive: true, force: true });
}

export interface GraftdClusterOptions {
  readonly ips: readonly [string, string, string];
  readonly httpPortBase: number;
  readonly raftPortBase: number;
  /** Extra node flags for the graftd processes (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** The server command (a .ts file is run through tsx); default bin/graftd. */
  readonly graftdBin?: string;
  /**
   * Secure mode (default false): certificates, secret and admin user made under the cluster's
   * temp dir; every node with peer TLS, HTTPS, -cluster-secret-file and -auth-file.
   */
  readonly secure?: boolean;
  /** With `secure`: which parts to turn on (default all). */
  readonly secureParts?: readonly SecurePart[];
  /** How long a stopped node may take to exit before SIGKILL (default 10 s). */
  readonly stopGraceMs?: number;
}

export interface GraftdCluster extends LocalCluster {
  /** Start one more node (plain clusters only) joining node0; its endpoint. Its node index is the next one. */
  join(name: string, ip: string, httpPort: number, raftPort: number): string;
}

/** Start node0 (bootstraps), then node1 and node2 with -join; resolves once all three are voters and ready. */
export async function startGraftdCluster(opts: GraftdClusterOptions): Promise<GraftdCluster> {
  const root = mkdtempSync(join(tmpdir(), 'graftd-bench-'));
  roots.add(root);
  const procs: Proc[] = [];
  const http = opts.ips.map((ip, i) => `${ip}:${opts.httpPortBase + i}`);
  const stop = (keep = false) => stopAll(procs, root, keep);
  const names = ['node0', 'node1', 'node2'];
  const security = opts.secure === true ? await benchSecurity(join(root, 'secure'), names, opts.ips, opts.secureParts) : undefined;
  const get = security === undefined ? undefined : secureGet(security.client);
  const scheme = schemeFor(security?.client);
  // With a secret the nodes get no credentials: a joiner proves it (GraftdPeer on /status, proof on /join).
  const env = { LOG_LEVEL: 'warn', ...security?.nodeEnv(), ...opts.env };
  try {
    for (let i = 0; i < 3; i++) {
      const bin = opts.graftdBin ?? defaultGraftdBin;
      const loader = bin.endsWith('.ts') ? ['--import', 'tsx'] : [];
      const args = [
        ...(opts.nodeFlags ?? []),
        ...loader,
        bin,
        '-id',
        `node${i}`,
        '-haddr',
        http[i]!,
        '-raddr',
        `${opts.ips[i]}:${opts.raftPortBase + i}`,
      ];
      if (i > 0) args.push('-join', http[0]!);
      if (security !== undefined) args.push(...security.nodeArgs(names[i]!));
      args.push(join(root, `node${i}`));
      procs.push(start(`node${i}`, process.execPath, args, env, root));
      if (i === 0)
        await waitFor(
          'node0 to lead',
          procs,
          30_000,
          async () => (await getJson(`${scheme}://${http[0]}/readyz`, undefined, get))?.status === 200,
        );
    }
    await waitFor('3 voters, all ready', procs, 60_000, async () => {
      const s = await getJson(`${scheme}://${http[0]}/status`, undefined, get);
      const members = (s?.body as { members?: { voter?: boolean }[] } | undefined)?.members ?? [];
      if (members.filter((m) => m.voter === true).length !== 3) return false;
      const ready = await Promise.all(http.map((h) => getJson(`${scheme}://${h}/readyz`, undefined, get)));
      return ready.every((r) => r?.status === 200);
    });
  } catch (err) {
    const keep = !interrupted; // keep the logs for diagnosis, unless interrupted
    await get?.agent.close();
    await stop(keep);
    if (keep && err instanceof Error) err.message += `\n(logs kept in ${root})`;
    throw err;
  }
  await get?.agent.close();
  return {
    endpoints: http.map((h) => `${scheme}://${h}`),
    root,
    stop,
    nodes: control(procs, root, opts.stopGraceMs),
    ...(security === undefined ? {} : { client: security.client }),
    join(name, ip, httpPort, raftPort) {
      const bin = opts.graftdBin ?? defaultGraftdBin;
      const loader = bin.endsWith('.ts') ? ['--import', 'tsx'] : [];
      const haddr = `${ip}:${httpPort}`;
      const args = [
        ...(opts.nodeFlags ?? []),
        ...loader,
        bin,
        '-id',
        name,
        '-haddr',
        haddr,
        '-raddr',
        `${ip}:${raftPort}`,
        '-join',
        http[0]!,
      ];
      if (security !== undefined) args.push(...security.nodeArgs(name));
      args.push(join(root, name));
      procs.push(start(name, process.execPath, args, env, root));
      return `${scheme}://${haddr}`;
    },
  };
}

export interface EtcdClusterOptions {
  readonly ips: readonly [string, string, string];
  readonly clientPortBase: number;
  readonly peerPortBase: number;
  readonly etcdBin: string;
  /** Extra etcd flags (the scale run raises --max-txn-ops and --max-request-bytes to load in batches). */
  readonly extraArgs?: readonly string[];
}

/** Start a 3-member etcd cluster; resolves once every member reports healthy. */
export async function startEtcdCluster(opts: EtcdClusterOptions): Promise<LocalCluster> {
  const root = mkdtempSync(join(tmpdir(), 'etcd-bench-'));
  roots.add(root);
  const procs: Proc[] = [];
  const client = opts.ips.map((ip, i) => `http://${ip}:${opts.clientPortBase + i}`);
  const peer = opts.ips.map((ip, i) => `http://${ip}:${opts.peerPortBase + i}`);
  const initialCluster = peer.map((p, i) => `e${i}=${p}`).join(',');
  const stop = (keep = false) => stopAll(procs, root, keep);
  try {
    for (let i = 0; i < 3; i++) {
      const args = [
        '--name',
        `e${i}`,
        '--data-dir',
        join(root, `e${i}`),
        '--listen-client-urls',
        client[i]!,
        '--advertise-client-urls',
        client[i]!,
        '--listen-peer-urls',
        peer[i]!,
        '--initial-advertise-peer-urls',
        peer[i]!,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-token',
        'graftd-bench',
        '--initial-cluster-state',
        'new',
        '--logger',
        'zap',
        '--log-level',
        'warn',
        ...(opts.extraArgs ?? []),
      ];
      procs.push(start(`e${i}`, opts.etcdBin, args, {}, root));
    }
    await waitFor('etcd members healthy', procs, 60_000, async () => {
      const h = await Promise.all(client.map((c) => getJson(`${c}/health`)));
      return h.every((r) => r?.status === 200 && (r.body as { health?: unknown }).health === 'true');
    });
  } catch (err) {
    const keep = !interrupted; // keep the logs for diagnosis, unless interrupted
    await stop(keep);
    if (keep && err instanceof Error) err.message += `\n(logs kept in ${root})`;
    throw err;
  }
  return { endpoints: client, root, stop, nodes: control(procs, root) };
}

/** The leader's endpoint among graftd `endpoints` (from GET /status), or undefined. `client`: for a secure cluster. */
export async function graftdLeader(endpoints: readonly string[], client?: ClientSecurity): Promise<string | undefined> {
  const get = client === undefined ? undefined : secureGet(client);
  const scheme = schemeFor(client);
  try {
    for (const e of endpoints) {
      const s = (await getJson(`${e}/status`, undefined, get))?.body as
        | { id?: string; leaderId?: string; leaderHttpAddr?: string }
        | undefined;
      if (s?.leaderHttpAddr) return s.leaderHttpAddr.startsWith('http') ? s.leaderHttpAddr : `${scheme}://${s.leaderHttpAddr}`;
    }
    return undefined;
  } finally {
    await get?.agent.close();
  }
}

/** The leader's endpoint among etcd `endpoints` (from /v3/maintenance/status), or undefined. */
export async function etcdLeader(endpoints: readonly string[]): Promise<string | undefined> {
  for (const e of endpoints) {
    const r = await getJson(`${e}/v3/maintenance/status`, { method: 'POST', body: '{}' });
    const s = r?.body as { header?: { member_id?: string }; leader?: string } | undefined;
    if (s?.leader !== undefined && s.header?.member_id === s.leader) return e;
  }
  return undefined;
}
