/**
 * `npm run bench -- --scale N` (issue 15, item 3): a 3-node graftd cluster loaded with N keys
 * through the API, then the figures that only show at scale — RSS per node and bytes per key,
 * the time to take a snapshot and the latency of requests served meanwhile, restart-to-ready of
 * one node and of the whole cluster, and the time for a new node to join by snapshot install —
 * with etcd's RSS and restart at the same size beside it (`--vs-etcd`).
 *
 * Why the snapshot is triggered this way: SNAPSHOT_THRESHOLD counts log entries, and a batched
 * load is only a few hundred entries; the threshold is set above load + baseline probe, and a
 * burst of small writes then pushes every node over it at a known moment, while the paced probe
 * keeps measuring. The nodes log each snapshot with its duration (LOG_LEVEL=info), which gives
 * the exact window to compare the probe's latency against.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { type Memory, memoryOf, mib } from './proc-mem.ts';
import { type GraftdCluster, type LocalCluster, getJson, startGraftdCluster } from './processes.ts';
import { type ProbeSample, probePercentile, startProbe } from './scale-probe.ts';
import { type EtcdScale, runEtcdScale } from './scale-etcd.ts';
import { batchSize, scaleKey, scaleValue } from './scale-data.ts';
import { fmt, printRows } from './summary.ts';

export interface ScaleOptions {
  readonly keys: number;
  readonly batch: number;
  readonly valueBytes: number;
  readonly portBase: number;
  readonly withEtcd: boolean;
  readonly etcdBin: string;
  readonly nodeFlags: readonly string[];
  readonly graftdBin?: string;
  readonly keep: boolean;
  /** Probe requests per second (half writes, half linearizable reads). */
  readonly probeRate?: number;
  /** Seconds of probe before the snapshot (the baseline). */
  readonly baselineSeconds?: number;
}

interface Status {
  id: string;
  role: string;
  leaderId: string;
  leaderHttpAddr: string;
  appliedIndex: number;
  commitIndex: number;
  snapshotIndex: number;
  members: { id: string; voter?: boolean }[];
}

async function status(endpoint: string): Promise<Status | undefined> {
  const r = await getJson(`${endpoint}/status`);
  return r?.status === 200 ? (r.body as Status) : undefined;
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>, everyMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const ready = async (e: string): Promise<boolean> => (await getJson(`${e}/readyz`))?.status === 200;

/** POST the N keys in batches, `concurrency` in flight, to `endpoint`; ms taken. */
async function load(endpoint: string, o: ScaleOptions, batch: number, concurrency = 2): Promise<number> {
  const pool = new Pool(endpoint, { connections: concurrency, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let lastReport = t0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          const from = next;
          if (from >= o.keys) return;
          const to = Math.min(o.keys, from + batch);
          next = to;
          const pairs: Record<string, string> = {};
          for (let i = from; i < to; i++) pairs[scaleKey(i)] = scaleValue(i, o.valueBytes);
          const body = JSON.stringify(pairs);
          for (let attempt = 1; ; attempt++) {
            const res = await pool.request({ method: 'POST', path: '/key', body, headers: { 'content-type': 'application/json' } });
            const text = await res.body.text();
            if (res.statusCode === 200) break;
            // 503s (a busy or changing leader) are retried a few times; anything else ends the run.
            if (res.statusCode !== 503 || attempt >= 5) throw new Error(`loading keys ${from}…: ${res.statusCode} ${text.slice(0, 200)}`);
            await sleep(200 * attempt);
          }
          done += to - from;
          if (performance.now() - lastReport > 5000) {
            lastReport = performance.now();
            console.error(`  loaded ${done} of ${o.keys} keys (${((done / (lastReport - t0)) * 1000).toFixed(0)} keys/s)`);
          }
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return performance.now() - t0;
}

/** A node's snapshot log lines ('snapshot taken' with its duration) at index ≥ `fromIndex`, as probe-clock windows. */
function snapshotWindows(logFile: string, fromIndex: number): { start: number; end: number; ms: number; index: number }[] {
  const out: { start: number; end: number; ms: number; index: number }[] = [];
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('snapshot taken')) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; time?: string; ms?: number; index?: number };
      if (rec.msg !== 'snapshot taken' || rec.time === undefined || rec.ms === undefined || (rec.index ?? 0) < fromIndex) continue;
      const end = Date.parse(rec.time) - performance.timeOrigin;
      out.push({ start: end - rec.ms, end, ms: rec.ms, index: rec.index ?? 0 });
    } catch {}
  }
  return out;
}

/**
 * Probe-clock time of the last `msg` line in a node's log written after `after` (probe clock), or
 * NaN; `msg` undefined: the first line of any kind after `after` (the process is up: modules loaded).
 */
function logTime(logFile: string, msg: string | undefined, after: number): number {
  let found = Number.NaN;
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return found;
  }
  for (const line of text.split('\n')) {
    if (msg !== undefined && !line.includes(msg)) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; time?: string };
      if ((msg !== undefined && rec.msg !== msg) || rec.time === undefined) continue;
      const t = Date.parse(rec.time) - performance.timeOrigin;
      if (t < after) continue;
      found = t;
      if (msg === undefined) break;
    } catch {}
  }
  return found;
}

const memories = (c: LocalCluster): (Memory | undefined)[] => Array.from({ length: c.nodes.count() }, (_, i) => memoryOf(c.nodes.pid(i)));

interface GraftdScale {
  readonly loadMs: number;
  readonly batch: number;
  readonly before: (Memory | undefined)[];
  readonly afterLoad: (Memory | undefined)[];
  readonly afterSnapshot: (Memory | undefined)[];
  readonly snapshots: { node: string; ms: number; index: number }[];
  readonly p99Baseline: { value: number; count: number; max: number };
  readonly p99During: { value: number; count: number; max: number };
  readonly probeSkipped: number;
  readonly restartOneMs: number;
  /** Start → the node's first log line (modules loaded), → its 'state loaded' line (snapshot read, WAL replayed). */
  readonly restartOneUpMs: number;
  readonly restartOneLoadedMs: number;
  readonly restartOneStopMs: number;
  /** The slowest node's start → first log line, and → 'state loaded'. */
  readonly restartAllUpMs: number;
  readonly restartAllLoadedMs: number;
  /** The new node's start → its first log line, and → 'received snapshot'. */
  readonly joinUpMs: number;
  readonly joinReceivedMs: number;
  readonly afterRestartOne: Memory | undefined;
  readonly restartAllMs: number;
  readonly afterRestartAll: (Memory | undefined)[];
  readonly joinMs: number;
  readonly joinSnapshotIndex: number;
  readonly joined: Memory | undefined;
}

async function runGraftdScale(o: ScaleOptions): Promise<GraftdScale> {
  const keyBytes = scaleKey(0).length;
  const batch = batchSize(o.keys <= 0 ? 1 : Math.max(1, o.batch), keyBytes, o.valueBytes);
  const batches = Math.ceil(o.keys / batch);
  const probeRate = o.probeRate ?? 100;
  const baselineSeconds = o.baselineSeconds ?? 10;
  // Above the load (one entry per batch) and the baseline probe (half its requests are writes).
  const threshold = batches + Math.ceil((probeRate / 2) * (baselineSeconds + 5)) + 200;
  console.error(
    `scale: ${o.keys} keys of ${o.valueBytes} B in ${batches} POST /key of ≤ ${batch} pairs; SNAPSHOT_THRESHOLD=${threshold}, SNAPSHOT_INTERVAL=1, TRAILING_LOGS=100`,
  );
  const ips = ['127.0.0.41', '127.0.0.42', '127.0.0.43'] as const;
  const cluster: GraftdCluster = await startGraftdCluster({
    ips,
    httpPortBase: o.portBase + 1,
    raftPortBase: o.portBase + 101,
    nodeFlags: o.nodeFlags,
    stopGraceMs: 120_000,
    env: { LOG_LEVEL: 'info', SNAPSHOT_INTERVAL: '1', SNAPSHOT_THRESHOLD: String(threshold), TRAILING_LOGS: '100' },
    ...(o.graftdBin === undefined ? {} : { graftdBin: o.graftdBin }),
  });
  const endpoints = [...cluster.endpoints];
  try {
    const leaderOf = async (): Promise<string> =>
      until('a leader', 60_000, async () => {
        for (const e of endpoints) {
          const s = await status(e);
          if (s?.leaderHttpAddr) return `http://${s.leaderHttpAddr.replace(/^https?:\/\//, '')}`;
        }
        return undefined;
      });
    const allApplied = async (eps: readonly string[], timeoutMs = 600_000): Promise<number> => {
      const leader = await status(await leaderOf());
      const target = leader?.commitIndex ?? 0;
      await until(`every node to apply index ${target}`, timeoutMs, async () => {
        const ss = await Promise.all(eps.map(status));
        return ss.every((s) => s !== undefined && s.appliedIndex >= target);
      });
      return target;
    };
    await sleep(2000); // let start-up garbage settle before the first reading
    const before = memories(cluster);
    const leader = await leaderOf();
    console.error(`loading into the leader ${leader} …`);
    const loadMs = await load(leader, o, batch);
    await allApplied(endpoints);
    await sleep(2000);
    const afterLoad = memories(cluster);
    console.error(`  loaded in ${(loadMs / 1000).toFixed(1)} s; RSS ${afterLoad.map((m) => mib(m?.rss ?? Number.NaN)).join('/')} MiB`);

    // Baseline probe, then push every node over the snapshot threshold and wait for the snapshots.
    const probe = startProbe({
      endpoints,
      ratePerSecond: probeRate,
      maxInFlight: 64,
      readKey: () => scaleKey(Math.floor(Math.random() * o.keys)),
      valueBytes: o.valueBytes,
    });
    const baselineFrom = performance.now();
    await sleep(baselineSeconds * 1000);
    const baselineTo = performance.now();
    const snapBefore = await Promise.all(endpoints.map(status));
    const fromIndex = Math.max(...snapBefore.map((s) => s?.snapshotIndex ?? 0)) + 1;
    const fillFrom = performance.now();
    const fill = new Pool(leader, { connections: 16 });
    try {
      let i = 0;
      for (;;) {
        const ss = await Promise.all(endpoints.map(status));
        // Done when each node is over the threshold or already took its snapshot (which resets its count).
        const over = (s: Status | undefined, k: number) =>
          s !== undefined && (s.appliedIndex - s.snapshotIndex > threshold || s.snapshotIndex > (snapBefore[k]?.snapshotIndex ?? 0));
        if (ss.every(over)) break;
        if (performance.now() - fillFrom > 300_000) throw new Error('the filler writes did not reach the snapshot threshold in 5 minutes');
        await Promise.all(
          Array.from({ length: 64 }, async () => {
            const res = await fill.request({
              method: 'POST',
              path: '/key',
              body: JSON.stringify({ [`fill-${i++ % 1000}`]: 'f' }),
              headers: { 'content-type': 'application/json' },
            });
            await res.body.dump();
          }),
        );
      }
    } finally {
      await fill.close();
    }
    const fillTo = performance.now();
    console.error(`  threshold passed after ${((fillTo - fillFrom) / 1000).toFixed(1)} s of filler writes; waiting for the snapshots …`);
    await until(
      'a snapshot on every node',
      600_000,
      async () => {
        const ss = await Promise.all(endpoints.map(status));
        return ss.every((s, k) => s !== undefined && s.snapshotIndex > (snapBefore[k]?.snapshotIndex ?? 0));
      },
      100,
    );
    await sleep(2000);
    await probe.stop();
    const afterSnapshot = memories(cluster);
    const windows = endpoints.map((_, k) => ({ node: `node${k}`, w: snapshotWindows(cluster.nodes.logFile(k), fromIndex) }));
    const snapshots = windows.flatMap(({ node, w }) => w.map((x) => ({ node, ms: x.ms, index: x.index })));
    const overlaps = (s: ProbeSample, a: number, b: number) => s.start < b && s.end > a;
    const during = (s: ProbeSample) =>
      !overlaps(s, fillFrom, fillTo) && windows.some(({ w }) => w.some((x) => overlaps(s, x.start, x.end)));
    const p99Baseline = probePercentile(probe.samples, 99, (s) => s.start >= baselineFrom && s.end <= baselineTo);
    const p99During = probePercentile(probe.samples, 99, during);
    console.error(
      `  snapshots ${snapshots.map((s) => `${s.node} ${s.ms} ms`).join(', ')}; probe p99 ${fmt(p99Baseline.value, 1)} ms baseline (${p99Baseline.count}), ${fmt(p99During.value, 1)} ms during (${p99During.count})`,
    );

    // Restart one follower: stop, then time from start to /readyz.
    const leaderNow = await leaderOf();
    const follower = endpoints.findIndex((e) => e !== leaderNow);
    await allApplied(endpoints);
    const stopAt = performance.now();
    await cluster.nodes.stop(follower);
    const restartOneStopMs = performance.now() - stopAt;
    const startAt = performance.now();
    cluster.nodes.start(follower);
    await until(`node${follower} ready after a restart`, 600_000, () => ready(endpoints[follower]!));
    const restartOneMs = performance.now() - startAt;
    const restartOneLoadedMs = logTime(cluster.nodes.logFile(follower), 'state loaded', startAt - 5) - startAt;
    const restartOneUpMs = logTime(cluster.nodes.logFile(follower), undefined, startAt - 5) - startAt;
    await sleep(1000);
    const afterRestartOne = memoryOf(cluster.nodes.pid(follower));
    console.error(
      `  node${follower} restarted: up ${(restartOneUpMs / 1000).toFixed(2)} s, state loaded ${(restartOneLoadedMs / 1000).toFixed(2)} s, ready ${(restartOneMs / 1000).toFixed(2)} s after start (stop took ${(restartOneStopMs / 1000).toFixed(2)} s)`,
    );

    // Restart the whole cluster at once.
    await allApplied(endpoints);
    await Promise.all(endpoints.map((_, k) => cluster.nodes.stop(k)));
    const allAt = performance.now();
    for (let k = 0; k < endpoints.length; k++) cluster.nodes.start(k);
    await until('all nodes ready after a full restart', 600_000, async () => (await Promise.all(endpoints.map(ready))).every(Boolean));
    const restartAllMs = performance.now() - allAt;
    const restartAllUpMs = Math.max(...endpoints.map((_, k) => logTime(cluster.nodes.logFile(k), undefined, allAt - 5) - allAt));
    const restartAllLoadedMs = Math.max(...endpoints.map((_, k) => logTime(cluster.nodes.logFile(k), 'state loaded', allAt - 5) - allAt));
    await sleep(1000);
    const afterRestartAll = memories(cluster);
    console.error(`  cluster restarted: all ready ${(restartAllMs / 1000).toFixed(2)} s after start`);

    // A new node joins: it gets a snapshot (the log was compacted to 100 entries behind it).
    const joinAt = performance.now();
    const joiner = cluster.join('node3', '127.0.0.44', o.portBase + 4, o.portBase + 104);
    endpoints.push(joiner);
    await until(
      'node3 to be a ready voter',
      900_000,
      async () => {
        const s = await status(await leaderOf());
        const voter = s?.members.some((m) => m.id === 'node3' && m.voter === true) === true;
        return voter && (await ready(joiner));
      },
      100,
    );
    const joinMs = performance.now() - joinAt;
    const joinSnapshotIndex = (await status(joiner))?.snapshotIndex ?? 0;
    const joinUpMs = logTime(cluster.nodes.logFile(3), undefined, joinAt - 5) - joinAt;
    const joinReceivedMs = logTime(cluster.nodes.logFile(3), 'received snapshot', joinAt - 5) - joinAt;
    await sleep(1000);
    const joined = memoryOf(cluster.nodes.pid(3));
    console.error(`  node3 joined: a ready voter ${(joinMs / 1000).toFixed(2)} s after start (snapshot index ${joinSnapshotIndex})`);
    return {
      loadMs,
      batch,
      before,
      afterLoad,
      afterSnapshot,
      snapshots,
      p99Baseline,
      p99During,
      probeSkipped: probe.skipped,
      restartOneMs,
      restartOneStopMs,
      restartOneUpMs,
      restartOneLoadedMs,
      restartAllUpMs,
      restartAllLoadedMs,
      joinUpMs,
      joinReceivedMs,
      afterRestartOne,
      restartAllMs,
      afterRestartAll,
      joinMs,
      joinSnapshotIndex,
      joined,
    };
  } finally {
    await cluster.stop(o.keep);
    if (o.keep) console.error(`graftd data and logs kept in ${cluster.root}`);
  }
}

const perKey = (after: Memory | undefined, before: Memory | undefined, keys: number): string =>
  after === undefined || before === undefined || keys === 0 ? '-' : ((after.rss - before.rss) / keys).toFixed(0);

/** What bin/graftd runs now: compiled dist/ or the sources through tsx (start-up differs by seconds). */
async function codeRun(): Promise<string> {
  try {
    const entry = (await import(new URL('../../bin/entry.mjs', import.meta.url).href)) as { compiledState(): string };
    const state = entry.compiledState();
    return state === 'current' ? 'compiled dist/' : `src/ through tsx (${state})`;
  } catch {
    return 'unknown';
  }
}

export async function runScale(o: ScaleOptions): Promise<void> {
  console.error(`bin/graftd will run ${await codeRun()}`);
  const g = await runGraftdScale(o);
  let e: EtcdScale | undefined;
  if (o.withEtcd) {
    try {
      e = await runEtcdScale(o);
    } catch (err) {
      // graftd's figures took minutes: print them whatever happened to etcd.
      console.error(`etcd scale run failed: ${(err as Error).message}`);
    }
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const rssList = (ms: readonly (Memory | undefined)[]) => ms.map((m) => mib(m?.rss ?? Number.NaN)).join(' / ');
  const rows: string[][] = [['measure', 'graftd', ...(e === undefined ? [] : ['etcd']), 'goal']];
  const add = (name: string, graftd: string, etcd: string, goal: string) =>
    rows.push([name, graftd, ...(e === undefined ? [] : [etcd]), goal]);
  add(
    'load (keys/s)',
    `${s(g.loadMs)} (${((o.keys / g.loadMs) * 1000).toFixed(0)})`,
    e ? `${s(e.loadMs)} (${((o.keys / e.loadMs) * 1000).toFixed(0)})` : '',
    '',
  );
  add('RSS before load, MiB per node', rssList(g.before), e ? rssList(e.before) : '', '');
  add('RSS after load, MiB per node', rssList(g.afterLoad), e ? rssList(e.afterLoad) : '', '≤ 400');
  add(
    'peak RSS (VmHWM) by then, MiB',
    g.afterLoad.map((m) => mib(m?.hwm ?? Number.NaN)).join(' / '),
    e ? e.afterLoad.map((m) => mib(m?.hwm ?? Number.NaN)).join(' / ') : '',
    '',
  );
  add(
    'bytes per key (RSS growth / keys)',
    g.afterLoad.map((m, k) => perKey(m, g.before[k], o.keys)).join(' / '),
    e ? e.afterLoad.map((m, k) => perKey(m, e.before[k], o.keys)).join(' / ') : '',
    '',
  );
  add('snapshot time per node', g.snapshots.map((x) => `${x.node} ${s(x.ms)}`).join(', '), '', '≤ 5 s');
  add('RSS after the snapshot, MiB', rssList(g.afterSnapshot), '', '');
  add(
    'probe p99 (max) without / during snapshot, ms',
    `${fmt(g.p99Baseline.value, 1)} (${fmt(g.p99Baseline.max, 0)}) / ${fmt(g.p99During.value, 1)} (${fmt(g.p99During.max, 0)}); n=${g.p99Baseline.count}/${g.p99During.count}`,
    '',
    'during ≤ 2 × without',
  );
  add('restart one follower: start → first log line (modules loaded)', s(g.restartOneUpMs), '', '');
  add('restart one follower: start → state loaded (snapshot + WAL)', s(g.restartOneLoadedMs), '', '');
  add('restart one follower: start → ready', s(g.restartOneMs), e ? s(e.restartOneMs) : '', '≤ 5 s');
  add(
    'RSS of that node after restart, MiB',
    mib(g.afterRestartOne?.rss ?? Number.NaN),
    e ? mib(e.afterRestartOne?.rss ?? Number.NaN) : '',
    '',
  );
  add('restart whole cluster: start → first log line (slowest)', s(g.restartAllUpMs), '', '');
  add('restart whole cluster: start → state loaded (slowest)', s(g.restartAllLoadedMs), '', '');
  add('restart whole cluster: start → all ready', s(g.restartAllMs), e ? s(e.restartAllMs) : '', '≤ 5 s');
  add('RSS after full restart, MiB per node', rssList(g.afterRestartAll), e ? rssList(e.afterRestartAll) : '', '≤ 400');
  add('new node joins: start → first log line', s(g.joinUpMs), '', '');
  add('new node joins: start → snapshot received and restored', s(g.joinReceivedMs), '', '');
  add('new node joins: start → ready voter', `${s(g.joinMs)} (snapshot index ${g.joinSnapshotIndex})`, '', '≤ 15 s');
  add('RSS of the new node, MiB', mib(g.joined?.rss ?? Number.NaN), '', '');
  printRows(rows);
  console.log(
    `${o.keys} keys (${scaleKey(0).length}-byte keys, ${o.valueBytes}-byte values), loaded with ≤ ${g.batch} pairs per POST /key` +
      (e === undefined ? '' : ` (etcd: ≤ ${e.batch} puts per /v3/kv/txn)`) +
      `, 2 in flight, to the leader. Probe: ${o.probeRate ?? 100} req/s paced (write / linearizable read alternating, all nodes); ` +
      `${g.probeSkipped} ticks skipped; "during" = probe requests overlapping a node's logged snapshot window (filler burst excluded). ` +
      `Nodes ran ${await codeRun()}.`,
  );
}
