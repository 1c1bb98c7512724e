/**
 * One run of the watch benchmark (issue 14) against a started cluster: open the watchers (in
 * worker threads, spread over the nodes), write at the paced rate to the leader, wait until
 * every acknowledged write reached every watcher (or the drain timeout), and collect the
 * latency histogram, the delivery counts and each node's RSS and CPU around it.
 *
 * Why the RSS at three points: idle, with the watchers open (the cost of a stream), and after the
 * writes (the cost of delivering through them), plus the peak (VmHWM).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { type Memory, memoryOf } from './proc-mem.ts';
import { WatchHistogram } from './watch-hist.ts';
import type { FromStreams, StreamsConfig, ToStreams, WatchSystem } from './watch-streams.ts';
import { plannedWrites, runWriter } from './watch-writer.ts';

export interface WatchRunOptions {
  readonly system: WatchSystem;
  readonly endpoints: readonly string[];
  readonly leader: string;
  /** Process ids of the nodes (RSS, CPU), in endpoint order. */
  readonly pids: readonly (number | undefined)[];
  readonly watchers: number;
  readonly rate: number;
  readonly seconds: number;
  readonly keys: number;
  readonly prefix: string;
  readonly threads: number;
  /** After the last write's answer, how long to wait for the deliveries still missing (ms). */
  readonly drainMs: number;
  readonly openTimeoutMs: number;
  readonly maxInFlight: number;
  /** How long past its schedule the writer may still send (ms; beyond it the rest are dropped). */
  readonly writeGraceMs: number;
  readonly log: (line: string) => void;
}

export interface NodeUsage {
  readonly idle?: Memory;
  readonly open?: Memory;
  readonly after?: Memory;
  /** CPU seconds the node used from the first write to the end of the drain. */
  readonly cpuSeconds: number;
}

export interface WatchResult {
  readonly system: WatchSystem;
  readonly watchers: number;
  readonly opened: number;
  readonly openFailures: readonly string[];
  readonly openMs: number;
  readonly sent: number;
  readonly acked: number;
  readonly writeErrors: number;
  readonly writeErrorKinds: ReadonlyMap<string, number>;
  readonly writeSeconds: number;
  readonly lagMs: number;
  readonly expected: number;
  readonly delivered: number;
  readonly missing: number;
  readonly duplicates: number;
  readonly unexpected: number;
  readonly ended: number;
  readonly endReasons: readonly string[];
  /** From the first write until every delivery arrived (or the drain gave up), ms. */
  readonly deliverMs: number;
  readonly hist: WatchHistogram;
  readonly nodes: readonly NodeUsage[];
  readonly clientCpuSeconds: number;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
}

/** utime + stime of `pid` in seconds (from /proc/<pid>/stat), NaN when unreadable. */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/** The worker's module, loaded through tsx's API (a worker thread does not inherit tsx's hooks). */
function startWorker(config: StreamsConfig): Worker {
  const url = new URL('./watch-streams.ts', import.meta.url).href;
  const code = `import('tsx/esm/api').then((api) => api.tsImport(${JSON.stringify(url)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(code, { eval: true, workerData: config });
}

/** The next message of `type` from `w` (rejects on a worker error or after `timeoutMs`). */
function next<T extends FromStreams['type']>(w: Worker, type: T, timeoutMs: number): Promise<Extract<FromStreams, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no '${type}' from a watcher thread within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: FromStreams): void => {
      if (m.type === type) done(undefined, m as Extract<FromStreams, { type: T }>);
    };
    const onError = (err: Error): void => done(err);
    const done = (err: Error | undefined, m?: Extract<FromStreams, { type: T }>): void => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      if (err !== undefined) reject(err);
      else resolve(m!);
    };
    w.on('message', onMessage);
    w.on('error', onError);
  });
}

export async function runWatch(o: WatchRunOptions): Promise<WatchResult> {
  const maxSeq = plannedWrites(o.rate, o.seconds);
  const loadBefore = loadavg();
  const idle = o.pids.map(memoryOf);
  const threads = Math.max(1, Math.min(o.threads, o.watchers));
  const workers: Worker[] = [];
  // 150 watchers per source address: at most 150 connections from one address to any node.
  const perSource = 150;
  const sources = Array.from({ length: Math.min(250, Math.ceil(o.watchers / perSource)) }, (_, k) => `127.0.1.${k + 1}`);
  const clientCpu0 = process.cpuUsage();
  try {
    const tOpen = performance.now();
    for (let t = 0, first = 0; t < threads; t++) {
      const count = Math.floor(o.watchers / threads) + (t < o.watchers % threads ? 1 : 0);
      workers.push(
        startWorker({
          system: o.system,
          endpoints: o.endpoints,
          prefix: o.prefix,
          first,
          count,
          maxSeq,
          openTimeoutMs: o.openTimeoutMs,
          sources,
          perSource,
        }),
      );
      first += count;
    }
    const openBudget = o.openTimeoutMs * Math.ceil(o.watchers / threads / 50) + 30_000;
    const ready = await Promise.all(workers.map((w) => next(w, 'ready', openBudget)));
    const openMs = performance.now() - tOpen;
    const opened = ready.reduce((a, r) => a + r.opened, 0);
    const openFailures = ready.flatMap((r) => r.failures).slice(0, 8);
    o.log(`  ${o.system}: ${opened}/${o.watchers} watchers open in ${(openMs / 1000).toFixed(1)} s${openFailures.length > 0 ? `; failures: ${openFailures.join(' | ')}` : ''}`);
    await sleep(500); // let the nodes settle after the connection burst
    const open = o.pids.map(memoryOf);
    const cpu0 = o.pids.map(cpuSecondsOf);
    const cpuClient0 = process.cpuUsage(clientCpu0);

    o.log(`  ${o.system}: writing ${o.rate}/s for ${o.seconds} s to ${o.leader} …`);
    const tWrite = performance.now();
    const w = await runWriter({
      system: o.system,
      leader: o.leader,
      prefix: o.prefix,
      rate: o.rate,
      seconds: o.seconds,
      keys: o.keys,
      maxInFlight: o.maxInFlight,
      timeoutMs: 10_000,
      graceMs: o.writeGraceMs,
      localAddress: '127.0.2.1',
    });
    const expected = w.ackedCount * opened;
    const count = async (): Promise<number> => {
      const counts = await Promise.all(
        workers.map((wk) => {
          const reply = next(wk, 'count', 30_000);
          wk.postMessage({ type: 'count' } satisfies ToStreams);
          return reply;
        }),
      );
      return counts.reduce((a, c) => a + c.delivered, 0);
    };
    let delivered = await count();
    const drainUntil = performance.now() + o.drainMs;
    while (delivered < expected && performance.now() < drainUntil) {
      await sleep(100);
      delivered = await count();
    }
    const deliverMs = performance.now() - tWrite;
    const after = o.pids.map(memoryOf);
    const cpu1 = o.pids.map(cpuSecondsOf);
    const clientCpu = process.cpuUsage(clientCpu0);
    const done = await Promise.all(
      workers.map((wk) => {
        const reply = next(wk, 'done', 60_000);
        wk.postMessage({ type: 'finish', acked: w.acked } satisfies ToStreams);
        return reply;
      }),
    );
    const hist = new WatchHistogram();
    for (const d of done) hist.merge(d.counts, d.max);
    const sum = (f: (d: (typeof done)[number]) => number): number => done.reduce((a, d) => a + f(d), 0);
    return {
      system: o.system,
      watchers: o.watchers,
      opened,
      openFailures,
      openMs,
      sent: w.sent,
      acked: w.ackedCount,
      writeErrors: w.errors,
      writeErrorKinds: w.errorKinds,
      writeSeconds: w.elapsedMs / 1000,
      lagMs: w.lagMs,
      expected,
      delivered: sum((d) => d.delivered),
      missing: sum((d) => d.missing),
      duplicates: sum((d) => d.duplicates),
      unexpected: sum((d) => d.unexpected),
      ended: sum((d) => d.ended),
      endReasons: done.flatMap((d) => d.endReasons).slice(0, 8),
      deliverMs,
      hist,
      nodes: o.pids.map((_, i) => ({
        ...(idle[i] === undefined ? {} : { idle: idle[i] }),
        ...(open[i] === undefined ? {} : { open: open[i] }),
        ...(after[i] === undefined ? {} : { after: after[i] }),
        cpuSeconds: cpu1[i]! - cpu0[i]!,
      })),
      clientCpuSeconds: (clientCpu.user + clientCpu.system - cpuClient0.user - cpuClient0.system) / 1e6,
      loadBefore,
      loadAfter: loadavg(),
    };
  } finally {
    await Promise.all(workers.map((wk) => wk.terminate()));
  }
}
