/**
 * `npm run soak -- --minutes N`: a 3-node cluster of real bin/graftd processes under a steady
 * mixed load (writes, deletes, linearizable and stale reads over 20 000 keys) with snapshots and
 * log compaction on short intervals and one leader transfer per minute. Prints one row per
 * minute (per node: RSS, heap, open fds, data dir size, WAL segments; p50/p99 latency, requests,
 * errors) and a last line
 *   soak: N minutes, rss drift X %, disk max Y MiB, p99 first/last A/B ms, E errors
 * Exit 0 when every goal is met, 1 on errors (or a failed run), 2 when only a performance goal
 * (RSS drift, bounded disk, flat p99) is missed; the reason is printed on one line before the last.
 *
 * Why real processes and minutes, not a unit test: leaks that matter (a map that never shrinks,
 * descriptors not closed, segments never deleted) show only after many snapshots, compactions
 * and leader changes, in the process that runs in production.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GraftdClient } from '../src/client/index.ts';
import { liveCount, removeTempRoots, signalAll, startGraftdCluster } from './lib/processes.ts';
import type { LocalCluster } from './lib/processes.ts';
import { DEFAULT_MIX, SoakLoad } from './lib/soak-load.ts';
import { type NodeSample, sampleNode } from './lib/soak-probe.ts';
import { DEFAULT_GOALS, type MinuteRow, finalLine, nodeMinute, summarize, tableHead, tableRow } from './lib/soak-report.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '32' },
    keys: { type: 'string', default: '20000' },
    'value-bytes': { type: 'string', default: '128-1024' },
    ips: { type: 'string', default: '127.0.0.71,127.0.0.72,127.0.0.73' },
    'port-base': { type: 'string', default: '18700' },
    'sample-seconds': { type: 'string', default: '5' },
    'snapshot-interval': { type: 'string', default: '2' },
    'snapshot-threshold': { type: 'string', default: '1000' },
    'trailing-logs': { type: 'string', default: '2000' },
    'request-timeout': { type: 'string', default: '15000' },
    retries: { type: 'string', default: '8' },
    'transfer-every': { type: 'string', default: '60' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(
    [
      'npm run soak -- [options]',
      '  --minutes N              run length (default 10); the CI test runs 2',
      '  --rate N                 offered operations/s, all kinds together (default 300)',
      '  --concurrency N          most requests in flight (default 32)',
      '  --keys N                 key space soak-0 … soak-N-1 (default 20000)',
      '  --value-bytes MIN-MAX    value sizes, uniform (default 128-1024)',
      `  mix: ${Object.entries(DEFAULT_MIX)
        .map(([k, v]) => `${k} ${v} %`)
        .join(', ')} (read = linearizable)`,
      '  --ips A,B,C              node addresses (default 127.0.0.71-73)',
      '  --port-base N            HTTP ports N+1..3, raft N+101..103 (default 18700)',
      '  --sample-seconds N       node sampling period (default 5)',
      '  --snapshot-interval S --snapshot-threshold N --trailing-logs N   node env (default 2, 1000, 2000)',
      '  --request-timeout MS     one HTTP attempt (default 15000)',
      '  --retries N              retries of 503 / refused requests, with backoff (default 8)',
      '  --transfer-every S       seconds between leader transfers (default 60; 0: none)',
      '  --keep                   keep the data dirs and node logs',
      `goals: rss drift < ${DEFAULT_GOALS.maxRssDriftPercent} % (minute 5 → last; minute 1 → last under 6 minutes),`,
      `  ≤ ${DEFAULT_GOALS.maxWalSegments} WAL segments and ≤ ${DEFAULT_GOALS.maxSnapshots} snapshot files per node,`,
      `  median p99 of the last 5 minutes ≤ ${DEFAULT_GOALS.p99Factor} × that of the first 5 + ${DEFAULT_GOALS.p99SlackMs} ms, 0 errors`,
      'exit: 0 goals met, 1 errors or a failed run, 2 a performance goal missed',
    ].join('\n'),
  );
  process.exit(0);
}

function positive(name: string, text: string, allowZero = false): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    console.error(`--${name}: expected a ${allowZero ? 'non-negative' : 'positive'} number, found ${JSON.stringify(text)}`);
    process.exit(1);
  }
  return n;
}

const minutes = Math.floor(positive('minutes', args.minutes));
if (minutes < 1) {
  console.error(`--minutes: expected a whole number of minutes ≥ 1, found ${JSON.stringify(args.minutes)}`);
  process.exit(1);
}
const rate = positive('rate', args.rate);
const concurrency = Math.floor(positive('concurrency', args.concurrency));
const keys = Math.floor(positive('keys', args.keys));
const sampleMs = positive('sample-seconds', args['sample-seconds']) * 1000;
const transferEveryMs = positive('transfer-every', args['transfer-every'], true) * 1000;
const portBase = Math.floor(positive('port-base', args['port-base']));
const requestTimeoutMs = positive('request-timeout', args['request-timeout']);
const retries = Math.floor(positive('retries', args.retries, true));
const valueMatch = /^(\d+)-(\d+)$/.exec(args['value-bytes']);
if (valueMatch === null || Number(valueMatch[1]) < 1 || Number(valueMatch[1]) > Number(valueMatch[2])) {
  console.error(`--value-bytes: expected MIN-MAX with 1 ≤ MIN ≤ MAX, found ${JSON.stringify(args['value-bytes'])}`);
  process.exit(1);
}
const valueBytes: [number, number] = [Number(valueMatch[1]), Number(valueMatch[2])];
const ips = args.ips.split(',');
if (ips.length !== 3) {
  console.error(`--ips: expected three addresses, found ${JSON.stringify(args.ips)}`);
  process.exit(1);
}
const nodeEnv = {
  SNAPSHOT_INTERVAL: String(Math.floor(positive('snapshot-interval', args['snapshot-interval']))),
  SNAPSHOT_THRESHOLD: String(Math.floor(positive('snapshot-threshold', args['snapshot-threshold']))),
  TRAILING_LOGS: String(Math.floor(positive('trailing-logs', args['trailing-logs'], true))),
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Failures that are not request errors: probes, transfers, exited nodes (each counts as one error). */
const otherErrors = new Map<string, number>();
function noteError(kind: string): void {
  if (otherErrors.size < 16 || otherErrors.has(kind)) otherErrors.set(kind, (otherErrors.get(kind) ?? 0) + 1);
  else otherErrors.set('other', (otherErrors.get('other') ?? 0) + 1);
}
const otherErrorCount = (): number => [...otherErrors.values()].reduce((a, b) => a + b, 0);

let stopRequested = false;

async function run(): Promise<{ rows: MinuteRow[]; errors: number }> {
  console.log(
    `graftd soak: ${minutes} min, 3 nodes on ${ips.join(', ')}, ${rate} ops/s offered (${Object.entries(DEFAULT_MIX)
      .map(([k, v]) => `${k} ${v} %`)
      .join(', ')}), ${keys} keys, values ${valueBytes[0]}-${valueBytes[1]} B, ` +
      `SNAPSHOT_INTERVAL=${nodeEnv.SNAPSHOT_INTERVAL} s SNAPSHOT_THRESHOLD=${nodeEnv.SNAPSHOT_THRESHOLD} TRAILING_LOGS=${nodeEnv.TRAILING_LOGS}, ` +
      `leader transfer every ${transferEveryMs / 1000} s, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  const cluster: LocalCluster = await startGraftdCluster({
    ips: ips as [string, string, string],
    httpPortBase: portBase + 1,
    raftPortBase: portBase + 101,
    env: nodeEnv,
  });
  const dataDirs = [0, 1, 2].map((i) => join(cluster.root, `node${i}`));
  console.error(`cluster up: ${cluster.endpoints.join(' ')}; data dirs and logs under ${cluster.root}`);
  const client = new GraftdClient({ endpoints: [...cluster.endpoints], timeoutMs: requestTimeoutMs, retries });
  const load = new SoakLoad({
    endpoints: cluster.endpoints,
    rate,
    concurrency,
    keys,
    valueBytes,
    mix: DEFAULT_MIX,
    requestTimeoutMs,
    retries,
    backoffBaseMs: 50,
    backoffMaxMs: 1000,
  });
  const rows: MinuteRow[] = [];
  let requestErrors = 0;
  const requestErrorKinds = new Map<string, number>();
  const transfers: Promise<void>[] = [];
  /** WAL segment file names seen per node (bounded): how many were created, against how many are present. */
  const segmentsSeen = [new Set<string>(), new Set<string>(), new Set<string>()];
  let transfersDone = 0;
  try {
    // Preload the share of keys the write/delete mix keeps present, so the data set starts at its steady size.
    const share = DEFAULT_MIX.write / (DEFAULT_MIX.write + DEFAULT_MIX.delete);
    console.error(`preloading ~${Math.round(share * keys)} keys …`);
    const failed = await load.preload(share);
    if (failed > 0) {
      noteError('preload write failed');
      requestErrors += failed;
    }
    for (const line of tableHead(3)) console.log(line);
    load.start();
    const t0 = Date.now();
    let nextTransfer = transferEveryMs > 0 ? t0 + transferEveryMs / 2 : Number.POSITIVE_INFINITY;
    for (let minute = 1; minute <= minutes && !stopRequested; minute++) {
      const minuteEnd = t0 + minute * 60_000;
      const samples: NodeSample[][] = [[], [], []];
      while (Date.now() < minuteEnd && !stopRequested) {
        if (Date.now() >= nextTransfer) {
          nextTransfer += transferEveryMs;
          transfers.push(
            client.transferLeader().then(
              () => {
                transfersDone++;
              },
              (err: unknown) => noteError(`transfer: ${(err as { code?: string }).code ?? String(err)}`),
            ),
          );
        }
        await Promise.all(
          cluster.endpoints.map(async (e, i) => {
            try {
              const sample = await sampleNode(e, dataDirs[i]!, 10_000);
              samples[i]!.push(sample);
              for (const name of sample.walSegments) if (segmentsSeen[i]!.size < 10_000) segmentsSeen[i]!.add(name);
            } catch (err) {
              noteError(`probe node${i}: ${(err as Error).message.slice(0, 80)}`);
            }
          }),
        );
        if (liveCount() < 3) {
          noteError('a node exited');
          stopRequested = true;
          break;
        }
        await sleep(Math.min(sampleMs, minuteEnd - Date.now(), nextTransfer - Date.now()));
      }
      const w = load.takeWindow();
      requestErrors += w.latency.errors;
      for (const [k, n] of w.latency.errorKinds) requestErrorKinds.set(k, (requestErrorKinds.get(k) ?? 0) + n);
      let leader = '?';
      try {
        leader = (await client.status()).leaderId || '-';
      } catch {
        // shown as '?'
      }
      const row: MinuteRow = {
        minute,
        ops: w.latency.ok + w.latency.errors,
        errors: w.latency.errors,
        retried: w.retried,
        skipped: w.skipped,
        p50Ms: w.latency.percentile(50),
        p99Ms: w.latency.percentile(99),
        leader,
        load1: loadavg()[0] ?? Number.NaN,
        nodes: samples.map(nodeMinute),
      };
      rows.push(row);
      console.log(tableRow(row));
      if (w.skipped > 0) console.error(`  minute ${minute}: ${w.skipped} pacing slots skipped (the cluster fell behind ${rate} ops/s)`);
    }
  } finally {
    await load.stop();
    await Promise.allSettled(transfers);
    await client.close();
    await cluster.stop(args.keep);
    if (args.keep) console.error(`data dirs and logs kept in ${cluster.root}`);
  }
  console.log(
    `${transfersDone} leader transfers; WAL segment files seen per node (created over the run): ${segmentsSeen.map((s, i) => `node${i} ${s.size}`).join(', ')}; ` +
      `most present at once: ${Math.max(0, ...rows.flatMap((r) => r.nodes.map((n) => n.walMax)).filter((x) => !Number.isNaN(x)))}`,
  );
  // Requests still in flight at the last window are counted too.
  const tail = load.takeWindow();
  requestErrors += tail.latency.errors;
  for (const [k, n] of tail.latency.errorKinds) requestErrorKinds.set(k, (requestErrorKinds.get(k) ?? 0) + n);
  const kinds = [...requestErrorKinds, ...otherErrors].map(([k, n]) => `${k} ×${n}`);
  if (kinds.length > 0) console.log(`errors: ${kinds.join(', ')}`);
  return { rows, errors: requestErrors + otherErrorCount() };
}

// Ctrl-C: stop the cluster (its processes would otherwise outlive us), remove temp dirs, exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopRequested = true;
    const n = signalAll('SIGTERM');
    console.error(`\n${signal}: stopping ${n} started process(es)`);
    setTimeout(() => {
      signalAll('SIGKILL');
      if (!args.keep) removeTempRoots();
      process.exit(130);
    }, 5000).unref();
    const poll = setInterval(() => {
      if (liveCount() > 0) return;
      if (!args.keep) removeTempRoots();
      process.exit(130);
    }, 100);
    poll.unref();
  });
}

// A bound on the whole run: the minutes, plus time to start, preload and stop.
const watchdog = setTimeout(
  () => {
    console.error(`soak: still running ${minutes + 10} minutes after start; stopping everything`);
    signalAll('SIGKILL');
    if (!args.keep) removeTempRoots();
    process.exit(1);
  },
  (minutes + 10) * 60_000,
);
watchdog.unref();

run()
  .then(({ rows, errors }) => {
    const summary = summarize(rows, errors);
    if (rows.length < minutes) summary.missed.unshift(`stopped after ${rows.length} of ${minutes} minutes`);
    console.log(summary.missed.length === 0 ? 'goals: all met' : `goals missed: ${summary.missed.join('; ')}`);
    console.log(finalLine(summary));
    process.exitCode = errors > 0 || rows.length < minutes ? 1 : summary.missed.length > 0 ? 2 : 0;
  })
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    console.log(`goals missed: the run failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    console.log(finalLine(summarize([], 1)));
    process.exitCode = 1;
  });
