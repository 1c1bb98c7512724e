/**
 * `npm run bench:startup`: how long the binaries take, as an operator's script sees them.
 *
 * Why a script: the goals of issue 12 (`graftctl get` ≤ 150 ms end to end against a running
 * local cluster, `graftd` start-to-ready ≤ 1 s) are about whole processes, so they are measured
 * with whole processes: spawn → exit for graftctl, spawn → first `GET /readyz` 200 for graftd.
 * It starts a 3-node cluster on 127.0.0.191–193 (a bootstrapped first node, then two nodes that
 * join it), then runs `graftctl get`, `graftctl --help` and `graftctl --version` N times each and
 * prints medians (and min/max) with the load average, since the numbers depend on the machine.
 * The binaries are run as `node bin/...`, so they pick dist/ or tsx exactly as a user's would.
 * Nothing here is asserted: it prints numbers.
 *
 * `--run dist|src|auto` sets GRAFTD_RUN for the binaries (bin/entry.mjs): `dist` fails unless the
 * build is current, `src` measures the sources through tsx; the default `auto` is what a user gets.
 *
 *   npm run bench:startup -- [--runs 10] [--run dist] [--keep-data]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '..');
const GRAFTD = join(ROOT, 'bin/graftd');
const GRAFTCTL = join(ROOT, 'bin/graftctl');
const HOSTS = ['127.0.0.191', '127.0.0.192', '127.0.0.193'];
const HTTP_PORT = 11_700;
const RAFT_PORT = 12_700;
/** Give up on one node's readiness after this long. */
const READY_TIMEOUT_MS = 60_000;
/** Poll /readyz this often while waiting (the resolution of the start-to-ready number). */
const POLL_MS = 5;

const argv = process.argv.slice(2);
const runsAt = argv.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(argv[runsAt + 1]) : 10;
const KEEP = argv.includes('--keep-data');
const runAt = argv.indexOf('--run');
const RUN_FROM = runAt >= 0 ? (argv[runAt + 1] ?? 'auto') : 'auto';
/** The environment of every binary started here. */
const ENV: NodeJS.ProcessEnv = { ...process.env, GRAFTD_RUN: RUN_FROM };

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function summary(label: string, xs: readonly number[]): string {
  const f = (n: number): string => n.toFixed(0).padStart(5);
  return `${label.padEnd(34)} median ${f(median(xs))} ms   min ${f(Math.min(...xs))}   max ${f(Math.max(...xs))}   (n=${xs.length})`;
}

/** Run a command to completion; the wall time from spawn to exit, in ms. */
function timed(args: readonly string[]): Promise<{ ms: number; code: number | null; out: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    out += b.toString();
  });
  return new Promise((res) => child.on('exit', (code) => res({ ms: performance.now() - t0, code, out })));
}

async function ready(http: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${http}/readyz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Spawn a node and wait for its /readyz to answer 200; the time from spawn to that answer, in ms. */
async function startNode(
  i: number,
  dataRoot: string,
  joinAddr: string | undefined,
  nodes: ChildProcess[],
  env: NodeJS.ProcessEnv = ENV,
): Promise<number> {
  const http = `${HOSTS[i]}:${HTTP_PORT}`;
  const args = [GRAFTD, '-id', `n${i}`, '-haddr', http, '-raddr', `${HOSTS[i]}:${RAFT_PORT}`];
  if (joinAddr !== undefined) args.push('-join', joinAddr);
  args.push(join(dataRoot, `n${i}`));
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  nodes[i] = child;
  let stderrTail = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderrTail = (stderrTail + b.toString()).slice(-2000);
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`node n${i} exited with ${child.exitCode}: ${stderrTail}`);
    if (await ready(http)) return performance.now() - t0;
    await sleep(POLL_MS);
  }
  throw new Error(`node n${i} not ready within ${READY_TIMEOUT_MS} ms`);
}

async function stopAll(nodes: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    nodes.map(
      (c) =>
        new Promise<void>((res) => {
          if (c.exitCode !== null || c.signalCode !== null) return res();
          const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.on('exit', () => {
            clearTimeout(t);
            res();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

async function main(): Promise<void> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'graftd-startup-'));
  const nodes: ChildProcess[] = [];
  const lines: string[] = [];
  const load0 = loadavg();
  try {
    const first = `${HOSTS[0]}:${HTTP_PORT}`;
    // A fresh one-node cluster first waits FOUNDING_QUIET (default 2 s, src/node/config.ts) and
    // then one election timeout: by design, so this number is printed twice, with and without it.
    const quiet = await startNode(0, join(dataRoot, 'quiet'), undefined, nodes, { ...ENV, FOUNDING_QUIET: '0' });
    await stopAll(nodes.splice(0));
    lines.push(summary('graftd start-to-ready (bootstrap)', [await startNode(0, dataRoot, undefined, nodes)]));
    lines.push(summary('  same with FOUNDING_QUIET=0', [quiet]));
    const joins = [await startNode(1, dataRoot, first, nodes), await startNode(2, dataRoot, first, nodes)];
    lines.push(summary('graftd start-to-ready (join)', joins));
    // A member restarting with its data while the cluster runs (a rolling restart).
    const restarts: number[] = [];
    for (let r = 0; r < 3; r++) {
      await stopAll([nodes[2]!]);
      restarts.push(await startNode(2, dataRoot, undefined, nodes));
    }
    lines.push(summary('graftd start-to-ready (restart)', restarts));
    const endpoints = HOSTS.map((h) => `${h}:${HTTP_PORT}`).join(',');
    const set = await timed([GRAFTCTL, '--endpoints', endpoints, 'set', 'bench-key', 'bench-value']);
    if (set.code !== 0) throw new Error(`graftctl set failed: ${set.out}`);
    const gets: number[] = [];
    const helps: number[] = [];
    const versions: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const g = await timed([GRAFTCTL, '--endpoints', endpoints, 'get', 'bench-key']);
      if (g.code !== 0 || !g.out.includes('bench-value')) throw new Error(`graftctl get failed: ${g.out}`);
      gets.push(g.ms);
      helps.push((await timed([GRAFTCTL, '--help'])).ms);
      versions.push((await timed([GRAFTCTL, '--version'])).ms);
    }
    lines.push(summary('graftctl get (end to end)', gets));
    lines.push(summary('graftctl --help', helps));
    lines.push(summary('graftctl --version', versions));
  } finally {
    await stopAll(nodes);
    if (!KEEP) rmSync(dataRoot, { recursive: true, force: true });
  }
  const load1 = loadavg();
  console.log(lines.join('\n'));
  const fmt = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`load average before ${fmt(load0)}, after ${fmt(load1)}; node ${process.version}; GRAFTD_RUN=${RUN_FROM}`);
}

await main();
