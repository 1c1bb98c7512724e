/**
 * `npm run bench`: load on a real 3-node graftd cluster over HTTP — writes, linearizable reads
 * and stale reads at several concurrencies — printing one row per case (requests/s, p50, p99,
 * errors). With `--vs-etcd`, the same load against a local 3-node etcd (JSON gateway) and the
 * ratios.
 *
 * Why both systems in one run: on a shared machine only numbers taken side by side, with the
 * same client and the same workload, are comparable.
 *
 * Usage: npm run bench -- [--seconds 3] [--concurrency 1,16,64] [--cases write,read,stale]
 *   [--target all|leader] [--keys 1000] [--value-bytes 64] [--endpoints URL,URL,URL]
 *   [--vs-etcd] [--etcd-endpoints URL,...] [--etcd-bin etcd] [--cpu-prof DIR] [--graftd-bin PATH] [--keep]
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { preload, runCase } from './lib/load.ts';
import type { CaseResult } from './lib/load.ts';
import { etcdLeader, graftdLeader, liveCount, removeTempRoots, signalAll, startEtcdCluster, startGraftdCluster } from './lib/processes.ts';
import type { LocalCluster } from './lib/processes.ts';
import { etcdTarget, graftdTarget } from './lib/targets.ts';
import type { OpKind, Target } from './lib/targets.ts';

/**
 * `npm run bench --vs-etcd` (without `--`) hands the flag to npm, which passes it on only as
 * npm_config_vs_etcd; accept a few options that way too.
 */
function argvWithNpmConfig(argv: readonly string[]): string[] {
  const out = [...argv];
  for (const name of ['vs-etcd', 'seconds', 'concurrency', 'cases', 'endpoints', 'etcd-endpoints']) {
    const value = process.env[`npm_config_${name.replaceAll('-', '_')}`];
    if (value === undefined || out.some((a) => a === `--${name}` || a.startsWith(`--${name}=`))) continue;
    if (name === 'vs-etcd') {
      if (value === 'true' || value === '') out.push('--vs-etcd');
    } else out.push(`--${name}=${value}`);
  }
  return out;
}

const { values: args } = parseArgs({
  args: argvWithNpmConfig(process.argv.slice(2)),
  options: {
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '0.5' },
    concurrency: { type: 'string', default: '1,16,64' },
    cases: { type: 'string', default: 'write,read,stale' },
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
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(
    [
      'npm run bench -- [options]',
      '  --seconds N            measured seconds per case (default 3), after --warmup seconds (default 0.5)',
      '  --concurrency LIST     concurrent clients per case (default 1,16,64)',
      '  --cases LIST           write,read,stale (read = linearizable)',
      '  --target all|leader    spread requests over all nodes (followers forward) or send to the leader only (default all)',
      '  --keys N --value-bytes N   key space and value size (default 1000, 64)',
      '  --endpoints URLS       measure a running graftd cluster instead of starting one on 127.0.0.41-43',
      '  --vs-etcd              also start a 3-node etcd on 127.0.0.44-46 (needs `etcd`, Debian etcd-server) and print ratios',
      '  --etcd-endpoints URLS  measure a running etcd instead',
      '  --cpu-prof DIR         run the started graftd nodes with --cpu-prof, profiles written to DIR on exit',
      '  --graftd-bin PATH      server command to start (default bin/graftd; bench/lib/stub-graftd.ts measures the HTTP layer alone)',
      '  --port-base N          ports used: graftd HTTP N+1..3, raft N+101..103, etcd client N+201..203, peer N+301..303 (default 18400)',
      '  --keep                 keep the temp data dirs and logs',
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
const concurrencies = args.concurrency.split(',').map((c) => positive('concurrency', c));
const kinds = args.cases.split(',').map((c) => {
  if (c !== 'write' && c !== 'read' && c !== 'stale') {
    console.error(`--cases: expected write, read or stale, found ${JSON.stringify(c)}`);
    process.exit(1);
  }
  return c as OpKind;
});
const keys = positive('keys', args.keys);
const portBase = positive('port-base', args['port-base']);
const value = 'v'.repeat(positive('value-bytes', args['value-bytes']));
if (args.target !== 'all' && args.target !== 'leader') {
  console.error(`--target: expected all or leader, found ${JSON.stringify(args.target)}`);
  process.exit(1);
}
const maxConcurrency = Math.max(...concurrencies);
const splitUrls = (s: string): string[] => s.split(',').map((u) => (u.startsWith('http') ? u : `http://${u}`));

const kindLabel: Record<OpKind, string> = { write: 'write', read: 'read-linearizable', stale: 'read-stale' };

async function measure(makeTarget: (endpoints: readonly string[]) => Target, endpoints: readonly string[]): Promise<CaseResult[]> {
  const target = makeTarget(endpoints);
  const results: CaseResult[] = [];
  try {
    const failed = await preload(target, keys, value);
    if (failed > 0) console.error(`  warning: ${failed} of ${keys} preload writes failed`);
    for (const kind of kinds) {
      for (const concurrency of concurrencies) {
        const r = await runCase(target, { kind, concurrency, seconds, warmupSeconds, keys, value });
        results.push(r);
        const errs = r.errors === 0 ? '' : `  errors: ${[...r.errorKinds].map(([k, n]) => `${k}×${n}`).join(', ')}`;
        console.error(
          `  ${target.system} ${kindLabel[kind]} c=${concurrency}: ${r.requestsPerSecond.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${errs}`,
        );
      }
    }
  } finally {
    await target.close();
  }
  return results;
}

async function runGraftd(): Promise<CaseResult[]> {
  let cluster: LocalCluster | undefined;
  let endpoints: readonly string[];
  if (args.endpoints !== undefined) endpoints = splitUrls(args.endpoints);
  else {
    console.error('starting 3 graftd nodes on 127.0.0.41-43 …');
    const nodeFlags = args['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(args['cpu-prof'])];
    cluster = await startGraftdCluster({
      ips: ['127.0.0.41', '127.0.0.42', '127.0.0.43'],
      httpPortBase: portBase + 1,
      raftPortBase: portBase + 101,
      nodeFlags,
      ...(args['graftd-bin'] === undefined ? {} : { graftdBin: resolve(args['graftd-bin']) }),
    });
    endpoints = cluster.endpoints;
  }
  try {
    if (args.target === 'leader') {
      const leader = await graftdLeader(endpoints);
      if (leader === undefined) throw new Error('no graftd leader found');
      endpoints = [leader];
    }
    console.error(`graftd: ${endpoints.join(' ')}`);
    return await measure((e) => graftdTarget(e, maxConcurrency), endpoints);
  } finally {
    await cluster?.stop(args.keep);
    if (args.keep && cluster !== undefined) console.error(`graftd data and logs kept in ${cluster.root}`);
  }
}

function etcdVersion(): string | undefined {
  try {
    return execFileSync(args['etcd-bin'], ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return undefined;
  }
}

async function runEtcd(): Promise<CaseResult[]> {
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
    return await measure((e) => etcdTarget(e, maxConcurrency), endpoints);
  } finally {
    await cluster?.stop(args.keep);
  }
}

const fmt = (n: number, digits: number): string => (Number.isNaN(n) ? '-' : n.toFixed(digits));

function printTable(graftd: CaseResult[], etcd: CaseResult[] | undefined): void {
  const head = ['case', 'conc', 'graftd req/s', 'p50 ms', 'p99 ms', 'errors'];
  if (etcd !== undefined) head.push('etcd req/s', 'p50 ms', 'p99 ms', 'errors', 'req/s ratio', 'p99 ratio');
  const rows: string[][] = [head];
  graftd.forEach((g, i) => {
    const row = [kindLabel[g.kind], String(g.concurrency), fmt(g.requestsPerSecond, 0), fmt(g.p50Ms, 2), fmt(g.p99Ms, 2), String(g.errors)];
    const e = etcd?.[i];
    if (e !== undefined) {
      row.push(fmt(e.requestsPerSecond, 0), fmt(e.p50Ms, 2), fmt(e.p99Ms, 2), String(e.errors));
      row.push(fmt(g.requestsPerSecond / e.requestsPerSecond, 2), fmt(g.p99Ms / e.p99Ms, 2));
    }
    rows.push(row);
  });
  const widths = head.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (c < 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  console.log(line(rows[0]!));
  console.log(`|${widths.map((w, c) => (c < 1 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows.slice(1)) console.log(line(r));
  if (etcd !== undefined)
    console.log('ratios are graftd / etcd: req/s above 1 means graftd is faster; p99 below 1 means graftd is faster.');
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
  console.log(
    `graftd HTTP benchmark: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${seconds} s per case after ${warmupSeconds} s warm-up, ` +
      `${keys} keys, ${value.length}-byte values, target: ${args.target === 'all' ? 'all nodes (followers forward)' : 'leader only'}` +
      (withEtcd ? `, vs ${version}` : ''),
  );
  const graftd = await runGraftd();
  const etcd = withEtcd ? await runEtcd() : undefined;
  printTable(graftd, etcd);
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
