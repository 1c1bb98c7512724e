/**
 * `npm run bench`: load on a real 3-node graftd cluster over HTTP — writes, linearizable reads
 * and stale reads at several concurrencies — printing one row per case (requests/s, p50, p99,
 * errors). With `--vs-etcd`, the same load against a local 3-node etcd (JSON gateway) and the
 * ratios.
 *
 * `--secure` runs graftd with everything on (peer TLS, cluster secret, HTTPS, users; the client
 * over https with the CA and Basic credentials, keep-alive); `--secure-vs-plain` starts a plain
 * and a secure cluster side by side and runs each case on both, interleaved, then prints them
 * side by side with the secure/plain ratios.
 *
 * `--value-bytes 64,4096,65536` runs every case at each value size (keys re-written at the size
 * first) and adds a value-size column; the table always shows MB/s beside req/s. Before the load,
 * fdatasync is timed on the disk the data dirs live on (bench/lib/fsync-probe.ts) and printed in
 * the header and under the table, beside the single-client write p50.
 *
 * Why both systems in one run: on a shared machine only numbers taken side by side, with the
 * same client and the same workload, are comparable.
 *
 * Usage: npm run bench -- [--seconds 3] [--concurrency 1,16,64] [--cases write,read,stale]
 *   [--target all|leader] [--keys 1000] [--value-bytes 64[,4096,65536]] [--endpoints URL,URL,URL]
 *   [--vs-etcd] [--etcd-endpoints URL,...] [--etcd-bin etcd] [--cpu-prof DIR] [--graftd-bin PATH] [--keep]
 *   [--secure] [--secure-vs-plain] [--rounds N]
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type FsyncProbeResult, fsyncProbeLine, probeFdatasync } from './lib/fsync-probe.ts';
import { preload, runCase } from './lib/load.ts';
import type { CaseResult } from './lib/load.ts';
import { runScale } from './lib/scale.ts';
import { fmt, kindLabel, printComparison, printRows, progressLine } from './lib/summary.ts';
import { etcdLeader, graftdLeader, liveCount, removeTempRoots, signalAll, startEtcdCluster, startGraftdCluster } from './lib/processes.ts';
import type { LocalCluster } from './lib/processes.ts';
import { type ClientSecurity, type SecurePart, parseSecureParts } from './lib/secure.ts';
import { OP_KINDS, etcdTarget, graftdTarget } from './lib/targets.ts';
import type { OpKind, Target } from './lib/targets.ts';
import { parseValueSizes } from './lib/value-sizes.ts';

/**
 * `npm run bench --vs-etcd` (without `--`) hands the flag to npm, which passes it on only as
 * npm_config_vs_etcd; accept a few options that way too.
 */
function argvWithNpmConfig(argv: readonly string[]): string[] {
  const out = [...argv];
  for (const name of [
    'vs-etcd',
    'secure',
    'secure-vs-plain',
    'seconds',
    'concurrency',
    'cases',
    'endpoints',
    'etcd-endpoints',
    'scale',
    'rounds',
    'value-bytes',
  ]) {
    const value = process.env[`npm_config_${name.replaceAll('-', '_')}`];
    if (value === undefined || out.some((a) => a === `--${name}` || a.startsWith(`--${name}=`))) continue;
    if (name === 'vs-etcd' || name === 'secure' || name === 'secure-vs-plain') {
      if (value === 'true' || value === '') out.push(`--${name}`);
    } else out.push(`--${name}=${value}`);
  }
  return out;
}

const { values: args } = parseArgs({
  args: argvWithNpmConfig(process.argv.slice(2)),
  options: {
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '0.5' },
    'system-warmup': { type: 'string', default: '5' },
    strict: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '1,16,64' },
    cases: { type: 'string' },
    target: { type: 'string', default: 'all' },
    keys: { type: 'string', default: '1000' },
    'value-bytes': { type: 'string', default: '64' },
    endpoints: { type: 'string' },
    'vs-etcd': { type: 'boolean', default: false },
    'etcd-endpoints': { type: 'string' },
    'etcd-bin': { type: 'string', default: 'etcd' },
    'cpu-prof': { type: 'string' },
    'graftd-bin': { type: 'string' },
    'port-base': { type: 'string', default: '18400' },
    keep: { type: 'boolean', default: false },
    secure: { type: 'boolean', default: false },
    'secure-vs-plain': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    'secure-parts': { type: 'string', default: 'all' },
    scale: { type: 'string' },
    'scale-batch': { type: 'string', default: '7000' },
    'scale-value-bytes': { type: 'string', default: '100' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(
    [
      'npm run bench -- [options]',
      '  --seconds N            measured seconds per case (default 3), after --warmup seconds (default 0.5)',
      '  --system-warmup N      unmeasured load on each system before its first case, every case kind at 16 clients, N seconds in all (default 5; 0 = none)',
      '  --strict               exit 1 when a case had failed requests or no successful one (CI smoke runs)',
      '  --concurrency LIST     concurrent clients per case (default 1,16,64)',
      '  --cases LIST           write,read,stale,cas,txn3 (read = linearizable; default write,read,stale, write,read with --secure-vs-plain)',
      '                         cas: PUT /key/K with ifModRevision (etcd: txn compare mod_revision); txn3: POST /txn, version > 0 then put,put,get',
      '  --target all|leader    spread requests over all nodes (followers forward) or send to the leader only (default all)',
      '  --keys N               key space (default 1000)',
      "  --value-bytes LIST     value size(s) in bytes (default 64; at most 262144, graftd's value limit); with several,",
      '                         e.g. 64,4096,65536, every case runs at each size (keys re-written first) and the table',
      '                         gets a value B column. MB/s = successful requests/s × value bytes, for every size',
      '  --endpoints URLS       measure a running graftd cluster instead of starting one on 127.0.0.41-43',
      '  --vs-etcd              also start a 3-node etcd on 127.0.0.44-46 (needs `etcd`, Debian etcd-server) and print ratios',
      '  --etcd-endpoints URLS  measure a running etcd instead',
      '  --cpu-prof DIR         run the started graftd nodes with --cpu-prof, profiles written to DIR on exit',
      '  --graftd-bin PATH      server command to start (default bin/graftd; bench/lib/stub-graftd.ts measures the HTTP layer alone)',
      '  --port-base N          ports used: graftd HTTP N+1..3, raft N+101..103, etcd client N+201..203, peer N+301..303 (default 18400)',
      '  --keep                 keep the temp data dirs and logs',
      '  --secure               graftd with peer TLS, cluster secret, HTTPS and users; client over https + Basic auth',
      '  --secure-vs-plain      a plain (127.0.0.41-43) and a secure cluster (127.0.0.47-49, HTTP N+11..13, raft N+111..113)',
      '                         at once, each case on both in turn; prints them side by side with secure/plain ratios',
      '  --secure-parts LIST    what secure mode turns on: all (default), none (control) or some of peer-tls,secret,https,auth',
      '  --rounds N             repeat every case N times; with --vs-etcd or --secure-vs-plain both clusters run at once and',
      '                         alternate which goes first (default 1: --vs-etcd runs graftd, then etcd)',
      '  --scale N              instead of the load cases: load N keys (batched POST /key), then RSS, bytes/key, snapshot',
      '                         time and p99 during it, restart and join times (with --vs-etcd: etcd RSS and restart too)',
      '  --scale-batch N        pairs per POST /key while loading (default 7000: ~0.9 MiB, under the 1 MiB body limit)',
      '  --scale-value-bytes N  value size for --scale (default 100)',
    ].join('\n'),
  );
  process.exit(0);
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name}: expected a positive number, found ${JSON.stringify(text)}`);
    process.exit(1);
  }
  return n;
}

const seconds = positive('seconds', args.seconds);
const warmupSeconds = Number(args.warmup);
const systemWarmupSeconds = Number(args['system-warmup']);
if (!Number.isFinite(systemWarmupSeconds) || systemWarmupSeconds < 0) {
  console.error(`--system-warmup: expected a number of seconds ≥ 0, found ${JSON.stringify(args['system-warmup'])}`);
  process.exit(1);
}
const concurrencies = args.concurrency.split(',').map((c) => positive('concurrency', c));
const secureVsPlain = args['secure-vs-plain'];
const kinds = (args.cases ?? (secureVsPlain ? 'write,read' : 'write,read,stale')).split(',').map((c) => {
  if (!(OP_KINDS as readonly string[]).includes(c)) {
    console.error(`--cases: expected some of ${OP_KINDS.join(', ')}, found ${JSON.stringify(c)}`);
    process.exit(1);
  }
  return c as OpKind;
});
const keys = positive('keys', args.keys);
const portBase = positive('port-base', args['port-base']);
let valueSizes: number[];
try {
  valueSizes = parseValueSizes(args['value-bytes']);
} catch (err) {
  console.error(`--value-bytes: ${(err as Error).message}`);
  process.exit(1);
}
/** The value of one size: ASCII, so its length is its byte count. One size's string is alive at a time. */
const makeValue = (bytes: number): string => 'v'.repeat(bytes);
if (args.target !== 'all' && args.target !== 'leader') {
  console.error(`--target: expected all or leader, found ${JSON.stringify(args.target)}`);
  process.exit(1);
}
const rounds = positive('rounds', args.rounds);
let secureParts: SecurePart[];
try {
  secureParts = parseSecureParts(args['secure-parts']);
} catch (err) {
  console.error(`--secure-parts: ${(err as Error).message}`);
  process.exit(1);
}
const partsLabel =
  secureParts.length === 4
    ? 'peer TLS + cluster secret + HTTPS + Basic auth'
    : secureParts.length === 0
      ? 'nothing on: a plain-vs-plain control'
      : secureParts.join(' + ');
if ((args.secure || secureVsPlain) && args.endpoints !== undefined) {
  console.error('--secure and --secure-vs-plain start their own clusters; --endpoints cannot be combined with them');
  process.exit(1);
}
if (secureVsPlain && (args['vs-etcd'] || args['etcd-endpoints'] !== undefined)) {
  console.error('--secure-vs-plain and --vs-etcd are separate runs; pick one');
  process.exit(1);
}
const maxConcurrency = Math.max(...concurrencies);
const splitUrls = (s: string): string[] => s.split(',').map((u) => (u.startsWith('http') ? u : `http://${u}`));

/** A system ready for load: its target (preloaded) and how to let it go. */
interface Opened {
  readonly target: Target;
  close(): Promise<void>;
}

/** Every case × concurrency of `kinds`, in order; the results of each over `rounds` repetitions. */
type Grid = CaseResult[][];

/**
 * Run every case on each of `systems`, `rounds` times. With two systems each case runs on one then
 * the other, the order alternating per round, so whatever else the machine does hits both alike.
 */
async function runGrid(systems: readonly Opened[]): Promise<Grid[]> {
  const grids: Grid[] = systems.map(() => []);
  for (const valueBytes of valueSizes) {
    const value = makeValue(valueBytes);
    // Every key holds a value of this size before its cases, so reads return it too.
    for (const { target } of systems) await preloaded(target, value);
    const sizeLabel = valueSizes.length > 1 ? ` ${valueBytes} B` : '';
    for (const kind of kinds) {
      for (const concurrency of concurrencies) {
        const rows: CaseResult[][] = systems.map(() => []);
        for (let round = 0; round < rounds; round++) {
          const order = systems.map((_, i) => i);
          if (round % 2 === 1) order.reverse();
          for (const i of order) {
            const target = systems[i]!.target;
            const r = await runCase(target, { kind, concurrency, seconds, warmupSeconds, keys, value });
            rows[i]!.push(r);
            console.error(progressLine(`${target.system}${sizeLabel}${rounds > 1 ? ` round ${round + 1}` : ''}`, r));
          }
        }
        for (const [i, r] of rows.entries()) grids[i]!.push(r);
      }
    }
  }
  return grids;
}

/** Targets already warmed up (--system-warmup): once per system, before its first case. */
const warmed = new WeakSet<Target>();

/**
 * Write every key with `value` (the preload before the cases of one value size); the first time,
 * also warm the system up. Why: graftd's nodes are JavaScript, compiled by V8 as they run; the
 * first case measured on a freshly started cluster (write at 1 client) ran on cold code and came
 * out ~40 % slower than the same case later in the run. Both systems get the same warm-up.
 */
async function preloaded(target: Target, value: string): Promise<Target> {
  const failed = await preload(target, keys, value);
  if (failed > 0) console.error(`  warning: ${failed} of ${keys} ${target.system} preload writes of ${value.length} bytes failed`);
  if (systemWarmupSeconds > 0 && !warmed.has(target)) {
    warmed.add(target);
    for (const kind of kinds) {
      await runCase(target, { kind, concurrency: Math.min(16, maxConcurrency), seconds: systemWarmupSeconds / kinds.length, warmupSeconds: 0, keys, value });
    }
  }
  return target;
}

/** --strict: a case with failed requests, or without one success, makes the run exit 1 (the numbers are never judged). */
function failOnErrors(results: readonly CaseResult[]): void {
  const bad = results.filter((r) => r.errors > 0 || r.ok === 0);
  if (bad.length === 0) return;
  const list = bad.map((r) => `${r.system} ${r.kind} c=${r.concurrency} (${r.errors} errors, ${r.ok} ok)`).join(', ');
  console.error(`--strict: ${bad.length} case(s) failed: ${list}`);
  process.exitCode = 1;
}

/** Start a local graftd cluster: plain on 127.0.0.41-43, secure on 127.0.0.47-49 (so both can run at once). */
function startLocalGraftd(secure: boolean): Promise<LocalCluster> {
  const ips: [string, string, string] = secure ? ['127.0.0.47', '127.0.0.48', '127.0.0.49'] : ['127.0.0.41', '127.0.0.42', '127.0.0.43'];
  console.error(`starting 3 ${secure ? 'secure ' : ''}graftd nodes on ${ips[0]}-${ips[2]!.split('.')[3]} …`);
  const nodeFlags = args['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(args['cpu-prof'])];
  return startGraftdCluster({
    ips,
    httpPortBase: portBase + (secure ? 11 : 1),
    raftPortBase: portBase + (secure ? 111 : 101),
    nodeFlags,
    secure,
    secureParts,
    ...(args['graftd-bin'] === undefined ? {} : { graftdBin: resolve(args['graftd-bin']) }),
  });
}

/** The endpoints the load goes to: every node, or (--target leader) the leader only. */
async function loadEndpoints(endpoints: readonly string[], client: ClientSecurity | undefined): Promise<readonly string[]> {
  if (args.target !== 'leader') return endpoints;
  const leader = await graftdLeader(endpoints, client);
  if (leader === undefined) throw new Error('no graftd leader found');
  return [leader];
}

async function openGraftd(secure: boolean): Promise<Opened> {
  let cluster: LocalCluster | undefined;
  let endpoints: readonly string[];
  if (args.endpoints !== undefined) endpoints = splitUrls(args.endpoints);
  else {
    cluster = await startLocalGraftd(secure);
    endpoints = cluster.endpoints;
  }
  const close = async () => {
    await cluster?.stop(args.keep);
    if (args.keep && cluster !== undefined) console.error(`graftd data and logs kept in ${cluster.root}`);
  };
  try {
    endpoints = await loadEndpoints(endpoints, cluster?.client);
    console.error(`graftd${secure ? ' (secure)' : ''}: ${endpoints.join(' ')}`);
    const target = graftdTarget(endpoints, maxConcurrency, cluster?.client);
    return {
      target,
      async close() {
        await target.close();
        await close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One row of the secure-vs-plain table: the two results of one case (averaged over the rounds). */
interface PairRow {
  readonly plain: CaseResult;
  readonly secure: CaseResult;
}

/** Mean req/s and errors, median p50/p99, over the rounds of one case. */
function combine(results: readonly CaseResult[]): CaseResult {
  const first = results[0]!;
  const lowMedian = (xs: number[]): number => {
    const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]!;
  };
  const errorKinds = new Map<string, number>();
  for (const r of results) for (const [k, n] of r.errorKinds) errorKinds.set(k, (errorKinds.get(k) ?? 0) + n);
  return {
    ...first,
    requestsPerSecond: results.reduce((a, r) => a + r.requestsPerSecond, 0) / results.length,
    p50Ms: lowMedian(results.map((r) => r.p50Ms)),
    p99Ms: lowMedian(results.map((r) => r.p99Ms)),
    errors: results.reduce((a, r) => a + r.errors, 0),
    errorKinds,
    ok: results.reduce((a, r) => a + r.ok, 0),
    conflicts: results.reduce((a, r) => a + r.conflicts, 0),
  };
}

/**
 * A plain and a secure cluster up at the same time (the idle one costs next to nothing), each
 * case run on one then the other, the order alternating per round, so that whatever else the
 * machine is doing hits both alike.
 */
async function runSecureVsPlain(): Promise<PairRow[]> {
  const clusters: LocalCluster[] = [];
  const targets: Target[] = [];
  try {
    clusters.push(await startLocalGraftd(false));
    clusters.push(await startLocalGraftd(true));
    for (const c of clusters) {
      const endpoints = await loadEndpoints(c.endpoints, c.client);
      console.error(`graftd${c.client === undefined ? '' : ' (secure)'}: ${endpoints.join(' ')}`);
      targets.push(graftdTarget(endpoints, maxConcurrency, c.client));
    }
    const [plainTarget, secureTarget] = targets as [Target, Target];
    const rows: PairRow[] = [];
    for (const valueBytes of valueSizes) {
      const value = makeValue(valueBytes);
      for (const target of targets) await preloaded(target, value);
      const sizeLabel = valueSizes.length > 1 ? ` ${valueBytes} B` : '';
      for (const kind of kinds) {
        for (const concurrency of concurrencies) {
          const plain: CaseResult[] = [];
          const secure: CaseResult[] = [];
          for (let round = 0; round < rounds; round++) {
            const order = round % 2 === 0 ? (['plain', 'secure'] as const) : (['secure', 'plain'] as const);
            for (const which of order) {
              const r = await runCase(which === 'plain' ? plainTarget : secureTarget, {
                kind,
                concurrency,
                seconds,
                warmupSeconds,
                keys,
                value,
              });
              (which === 'plain' ? plain : secure).push(r);
              console.error(progressLine(`${which.padEnd(6)}${sizeLabel} round ${round + 1}`, r));
            }
          }
          rows.push({ plain: combine(plain), secure: combine(secure) });
        }
      }
    }
    return rows;
  } finally {
    await Promise.all(targets.map((t) => t.close()));
    for (const c of clusters) {
      await c.stop(args.keep);
      if (args.keep) console.error(`graftd data and logs kept in ${c.root}`);
    }
  }
}

function printPairTable(rows: readonly PairRow[], fsync: FsyncProbeResult | undefined): void {
  const withSize = valueSizes.length > 1;
  const head = ['case', ...(withSize ? ['value B'] : []), 'conc', 'plain req/s', 'p50 ms', 'p99 ms', 'errors'];
  head.push('secure req/s', 'p50 ms', 'p99 ms', 'errors', 'req/s ratio', 'p99 ratio');
  const table: string[][] = [head];
  for (const { plain: p, secure: s } of rows) {
    table.push([
      kindLabel[p.kind],
      ...(withSize ? [String(p.valueBytes)] : []),
      String(p.concurrency),
      fmt(p.requestsPerSecond, 0),
      fmt(p.p50Ms, 2),
      fmt(p.p99Ms, 2),
      String(p.errors),
      fmt(s.requestsPerSecond, 0),
      fmt(s.p50Ms, 2),
      fmt(s.p99Ms, 2),
      String(s.errors),
      fmt(s.requestsPerSecond / p.requestsPerSecond, 2),
      fmt(s.p99Ms / p.p99Ms, 2),
    ]);
  }
  printRows(table);
  console.log(
    `ratios are secure / plain: req/s 0.85 or more meets the goal (within 15 %); p99 above 1 means secure is slower.` +
      (rounds > 1 ? ` ${rounds} rounds per case: mean req/s, median p50/p99.` : ''),
  );
  if (fsync !== undefined) console.log(fsyncProbeLine(fsync));
}

function etcdVersion(): string | undefined {
  try {
    return execFileSync(args['etcd-bin'], ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return undefined;
  }
}

async function openEtcd(): Promise<Opened> {
  let cluster: LocalCluster | undefined;
  let endpoints: readonly string[];
  if (args['etcd-endpoints'] !== undefined) endpoints = splitUrls(args['etcd-endpoints']);
  else {
    console.error('starting 3 etcd members on 127.0.0.44-46 …');
    cluster = await startEtcdCluster({
      ips: ['127.0.0.44', '127.0.0.45', '127.0.0.46'],
      clientPortBase: portBase + 201,
      peerPortBase: portBase + 301,
      etcdBin: args['etcd-bin'],
    });
    endpoints = cluster.endpoints;
  }
  try {
    if (args.target === 'leader') {
      const leader = await etcdLeader(endpoints);
      if (leader === undefined) throw new Error('no etcd leader found');
      endpoints = [leader];
    }
    console.error(`etcd: ${endpoints.join(' ')}`);
    const target = etcdTarget(endpoints, maxConcurrency);
    return {
      target,
      async close() {
        await target.close();
        await cluster?.stop(args.keep);
      },
    };
  } catch (err) {
    await cluster?.stop(args.keep);
    throw err;
  }
}

/**
 * graftd alone, or with etcd: one round runs graftd's cluster, then etcd's (never together);
 * with --rounds > 1 both are up at once and every case alternates between them.
 */
async function runVsEtcd(withEtcd: boolean): Promise<{ graftd: Grid; etcd: Grid | undefined }> {
  if (!withEtcd || rounds === 1) {
    const g = await openGraftd(args.secure);
    let graftd: Grid;
    try {
      [graftd] = (await runGrid([g])) as [Grid];
    } finally {
      await g.close();
    }
    if (!withEtcd) return { graftd, etcd: undefined };
    const e = await openEtcd();
    try {
      const [etcd] = (await runGrid([e])) as [Grid];
      return { graftd, etcd };
    } finally {
      await e.close();
    }
  }
  const opened: Opened[] = [];
  try {
    opened.push(await openGraftd(args.secure));
    opened.push(await openEtcd());
    const [graftd, etcd] = (await runGrid(opened)) as [Grid, Grid];
    return { graftd, etcd };
  } finally {
    for (const o of opened) await o.close();
  }
}

/**
 * fdatasync on the disk of the data dirs (processes.ts makes them under os.tmpdir(); with
 * --endpoints the nodes' disk is unknown, so the local temp dir stands in), before any cluster
 * starts. Printed at once under the header; undefined (with a warning) when it fails.
 */
function runFsyncProbe(): FsyncProbeResult | undefined {
  try {
    const r = probeFdatasync({ dir: tmpdir() });
    console.log(fsyncProbeLine(r) + (args.endpoints !== undefined ? ' (local temp dir: the --endpoints nodes may use another disk)' : ''));
    return r;
  } catch (err) {
    console.error(`fdatasync probe in ${tmpdir()} failed, going on without it: ${(err as Error).message}`);
    return undefined;
  }
}

async function main(): Promise<void> {
  const startLoad = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  let withEtcd = args['vs-etcd'] || args['etcd-endpoints'] !== undefined;
  const version = withEtcd && args['etcd-endpoints'] === undefined ? etcdVersion() : 'remote';
  if (withEtcd && version === undefined) {
    console.error(`--vs-etcd: '${args['etcd-bin']}' is not installed (Debian: apt-get install etcd-server); running graftd only`);
    withEtcd = false;
  }
  if (args.scale !== undefined)
    console.log(
      `graftd scale benchmark: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${args.scale} keys` +
        (withEtcd ? `, vs ${version}` : ''),
    );
  else
    console.log(
      `graftd HTTP benchmark: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${seconds} s per case after ${warmupSeconds} s warm-up, ` +
        `${keys} keys, ${valueSizes.length > 1 ? `values of ${valueSizes.join(', ')} bytes` : `${valueSizes[0]}-byte values`}, target: ${args.target === 'all' ? 'all nodes (followers forward)' : 'leader only'}` +
        (withEtcd ? `, vs ${version}` : '') +
        (secureVsPlain
          ? `, secure (${partsLabel}) vs plain, interleaved, ${rounds} round(s)`
          : args.secure
            ? `, secure (${partsLabel})`
            : ''),
    );
  if (args.scale !== undefined) {
    if (args.endpoints !== undefined || args.secure || secureVsPlain) {
      console.error('--scale starts its own plain clusters; it cannot be combined with --endpoints, --secure or --secure-vs-plain');
      process.exitCode = 1;
      return;
    }
    await runScale({
      keys: positive('scale', args.scale),
      batch: positive('scale-batch', args['scale-batch']),
      valueBytes: positive('scale-value-bytes', args['scale-value-bytes']),
      portBase,
      withEtcd: withEtcd && args['etcd-endpoints'] === undefined,
      etcdBin: args['etcd-bin'],
      nodeFlags: args['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(args['cpu-prof'])],
      ...(args['graftd-bin'] === undefined ? {} : { graftdBin: resolve(args['graftd-bin']) }),
      keep: args.keep,
    });
  } else {
    const fsync = runFsyncProbe();
    if (secureVsPlain) printPairTable(await runSecureVsPlain(), fsync);
    else {
      const { graftd, etcd } = await runVsEtcd(withEtcd);
      printComparison(graftd, etcd, fsync === undefined ? {} : { fsync });
      if (args.strict) failOnErrors([...graftd, ...(etcd ?? [])].flat());
    }
  }
  console.log(
    `load average at start ${startLoad}, at end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (1/5/15 min; other work on the machine skews the numbers)`,
  );
}

// Ctrl-C: stop the clusters we started (they would otherwise outlive us), then exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const n = signalAll('SIGTERM');
    console.error(`\n${signal}: stopping ${n} started process(es)`);
    setTimeout(() => {
      signalAll('SIGKILL');
      process.exit(130);
    }, 3000).unref();
    const poll = setInterval(() => {
      if (liveCount() > 0) return;
      if (!args.keep) removeTempRoots();
      process.exit(130);
    }, 100);
    poll.unref();
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
