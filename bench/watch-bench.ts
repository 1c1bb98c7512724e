/**
 * `npm run bench:watch`: the watch benchmark of issue 14 — W watchers on one prefix (default
 * 1,000, spread over the 3 nodes, each its own HTTP connection) while R writes/s (default 1,000,
 * paced, to the leader) go on for S seconds (default 10): delivery latency from each write's send
 * to its arrival at each watcher (p50/p99/max), delivered vs expected (= acknowledged writes ×
 * watchers, none missing, none repeated), each node's RSS and CPU. Then the same against a local
 * 3-member etcd 3.4 (`POST /v3/watch` on its JSON gateway), one after the other, never together,
 * and the graftd/etcd ratios.
 *
 * Why both in one run: on a shared machine only numbers taken minutes apart with the same client
 * are comparable. Method and numbers: bench/README.md → "Watch (issue 14)".
 *
 * Usage: npm run bench:watch -- [--watchers 1000] [--rate 1000] [--seconds 10] [--systems graftd,etcd]
 *   [--threads 1] [--drain-seconds 15] [--keys 1000] [--etcd-bin etcd] [--port-base 19400] [--keep] [--json]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { mib } from './lib/proc-mem.ts';
import { etcdLeader, graftdLeader, liveCount, removeTempRoots, signalAll, startEtcdCluster, startGraftdCluster } from './lib/processes.ts';
import type { LocalCluster } from './lib/processes.ts';
import { type WatchResult, runWatch } from './lib/watch-run.ts';
import type { WatchSystem } from './lib/watch-streams.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    watchers: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    systems: { type: 'string', default: 'graftd,etcd' },
    threads: { type: 'string', default: '1' },
    'drain-seconds': { type: 'string', default: '15' },
    'open-timeout': { type: 'string', default: '10000' },
    'max-in-flight': { type: 'string', default: '256' },
    'write-grace': { type: 'string', default: '10' },
    keys: { type: 'string', default: '1000' },
    'etcd-bin': { type: 'string', default: 'etcd' },
    'port-base': { type: 'string', default: '19400' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(
    [
      'npm run bench:watch -- [options]',
      '  --watchers N         watch streams on one prefix, spread over the 3 nodes (default 1000)',
      '  --rate N             writes per second to the leader, paced (default 1000)',
      '  --seconds N          how long to write (default 10)',
      '  --systems LIST       graftd,etcd (default both, one after the other)',
      '  --threads N          client worker threads reading the streams (default 1)',
      '  --drain-seconds N    after the last write, wait up to N s for missing deliveries (default 15)',
      '  --open-timeout MS    per stream (default 10000)',
      '  --max-in-flight N    writes outstanding at once (default 256)',
      '  --write-grace N      writes not sent N s after their time are dropped, the run cut short (default 10)',
      '  --keys N             writes cycle over N keys under the prefix (default 1000)',
      '  --port-base N        graftd HTTP N+1..3 and raft N+101..103 on 127.0.0.41-43; etcd client N+201..203 and',
      '                       peer N+301..303 on 127.0.0.44-46 (default 19400)',
      '  --keep               keep the temp data dirs and logs',
      '  --json               also print the results as one JSON line on stdout',
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

const watchers = Math.floor(positive('watchers', args.watchers));
const rate = positive('rate', args.rate);
const seconds = positive('seconds', args.seconds);
const portBase = Math.floor(positive('port-base', args['port-base']));
const systems = args.systems.split(',').map((s) => {
  if (s !== 'graftd' && s !== 'etcd') {
    console.error(`--systems: expected graftd and/or etcd, found ${JSON.stringify(s)}`);
    process.exit(1);
  }
  return s as WatchSystem;
});
const log = (line: string): void => console.error(line);

async function startCluster(system: WatchSystem): Promise<{ cluster: LocalCluster; leader: string }> {
  if (system === 'graftd') {
    log('starting 3 graftd nodes on 127.0.0.41-43 …');
    const cluster = await startGraftdCluster({
      ips: ['127.0.0.41', '127.0.0.42', '127.0.0.43'],
      httpPortBase: portBase + 1,
      raftPortBase: portBase + 101,
      // Default limits: the watchers come from several source addresses (127.0.1.x, 150 each), the
      // writer from 127.0.2.1, all under graftd's 256 connections per address.
      env: watchers > 10_000 ? { WATCH_MAX: String(watchers) } : {},
    });
    const leader = await graftdLeader(cluster.endpoints);
    if (leader === undefined) throw new Error('no graftd leader found');
    return { cluster, leader };
  }
  log('starting 3 etcd members on 127.0.0.44-46 …');
  const cluster = await startEtcdCluster({
    ips: ['127.0.0.44', '127.0.0.45', '127.0.0.46'],
    clientPortBase: portBase + 201,
    peerPortBase: portBase + 301,
    etcdBin: args['etcd-bin'],
  });
  let leader: string | undefined;
  for (let i = 0; i < 50 && leader === undefined; i++) {
    leader = await etcdLeader(cluster.endpoints);
    if (leader === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  if (leader === undefined) throw new Error('no etcd leader found');
  return { cluster, leader };
}

async function measure(system: WatchSystem): Promise<WatchResult> {
  const { cluster, leader } = await startCluster(system);
  try {
    return await runWatch({
      system,
      endpoints: cluster.endpoints,
      leader,
      pids: cluster.endpoints.map((_, i) => cluster.nodes.pid(i)),
      watchers,
      rate,
      seconds,
      keys: Math.floor(positive('keys', args.keys)),
      prefix: 'watchbench/',
      threads: Math.floor(positive('threads', args.threads)),
      drainMs: positive('drain-seconds', args['drain-seconds']) * 1000,
      openTimeoutMs: positive('open-timeout', args['open-timeout']),
      maxInFlight: Math.floor(positive('max-in-flight', args['max-in-flight'])),
      writeGraceMs: positive('write-grace', args['write-grace']) * 1000,
      log,
    });
  } finally {
    await cluster.stop(args.keep);
    if (args.keep) log(`  logs and data kept in ${cluster.root}`);
  }
}

const ms = (x: number): string => (Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
const load = (l: readonly number[]): string => l.map((x) => x.toFixed(1)).join(' ');
const sumMem = (r: WatchResult, at: 'idle' | 'open' | 'after', f: 'rss' | 'hwm' = 'rss'): number =>
  r.nodes.reduce((a, n) => a + (n[at]?.[f] ?? Number.NaN), 0);

function rows(results: readonly WatchResult[]): string[] {
  const out = [
    '| system | watchers open | writes acked / sent / planned (acked/s) | delivered / expected | missing | dup | ended early | p50 ms | p99 ms | max ms | all delivered after s | RSS idle → open → after, MiB (3 nodes) | peak MiB | node CPU s | client CPU s | load before → after |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const perNode = (at: 'idle' | 'open' | 'after'): string => r.nodes.map((n) => mib(n[at]?.rss ?? Number.NaN)).join('+');
    out.push(
      `| ${r.system} | ${r.opened}/${r.watchers} | ${r.acked} / ${r.sent} / ${Math.round(rate * seconds)} (${(r.acked / r.writeSeconds).toFixed(0)}) | ${r.delivered} / ${r.expected} | ${r.missing} | ${r.duplicates} | ${r.ended} | ${ms(r.hist.percentile(50))} | ${ms(r.hist.percentile(99))} | ${ms(r.hist.max)} | ${(r.deliverMs / 1000).toFixed(1)} | ${mib(sumMem(r, 'idle'))} → ${mib(sumMem(r, 'open'))} → ${mib(sumMem(r, 'after'))} (${perNode('idle')} → ${perNode('open')} → ${perNode('after')}) | ${mib(sumMem(r, 'after', 'hwm'))} | ${r.nodes.map((n) => n.cpuSeconds.toFixed(1)).join('+')} | ${r.clientCpuSeconds.toFixed(1)} | ${load(r.loadBefore)} → ${load(r.loadAfter)} |`,
    );
  }
  const g = results.find((r) => r.system === 'graftd');
  const e = results.find((r) => r.system === 'etcd');
  if (g !== undefined && e !== undefined) {
    const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '-');
    const cpu = (r: WatchResult): number => r.nodes.reduce((a, n) => a + n.cpuSeconds, 0);
    out.push(
      '',
      `graftd/etcd: p50 ${ratio(g.hist.percentile(50), e.hist.percentile(50))}, p99 ${ratio(g.hist.percentile(99), e.hist.percentile(99))}, max ${ratio(g.hist.max, e.hist.max)}, ` +
        `RSS after ${ratio(sumMem(g, 'after'), sumMem(e, 'after'))}, RSS added by the open watchers ${ratio(sumMem(g, 'open') - sumMem(g, 'idle'), sumMem(e, 'open') - sumMem(e, 'idle'))}, node CPU ${ratio(cpu(g), cpu(e))}`,
    );
  }
  return out;
}

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

log(`watch bench: ${watchers} watchers, ${rate} writes/s for ${seconds} s; load average ${load(loadavg())}`);
const results: WatchResult[] = [];
for (const system of systems) {
  const r = await measure(system);
  results.push(r);
  if (r.writeErrors > 0) log(`  ${system} write errors: ${[...r.writeErrorKinds].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  if (r.endReasons.length > 0) log(`  ${system} streams ended early: ${r.endReasons.join(' | ')}`);
  if (r.unexpected > 0) log(`  ${system}: ${r.unexpected} deliveries of unacknowledged writes`);
  log(`  ${system}: writes sent ${r.sent} of ${Math.round(rate * seconds)}, the last one ${r.lagMs.toFixed(0)} ms behind schedule`);
}
console.log(rows(results).join('\n'));
if (args.json) {
  console.log(
    JSON.stringify(
      results.map((r) => ({ ...r, hist: undefined, p50: r.hist.percentile(50), p99: r.hist.percentile(99), max: r.hist.max, writeErrorKinds: [...r.writeErrorKinds] })),
    ),
  );
}
process.exit(results.every((r) => r.missing === 0 && r.duplicates === 0 && r.opened === r.watchers) ? 0 : 2);
