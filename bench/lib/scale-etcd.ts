/**
 * The etcd side of `--scale --vs-etcd`: a 3-member etcd loaded with the same N keys through its
 * JSON gateway (batched /v3/kv/txn puts), then its RSS per member and restart-to-healthy of one
 * member and of the whole cluster, for the table beside graftd's.
 *
 * Why raised limits: etcd refuses a txn of more than 128 ops or a request over 1.5 MiB by
 * default; loading a million keys 128 at a time would measure the loader. The limits only change
 * what one request may carry, not how etcd stores keys.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { type Memory, memoryOf, mib } from './proc-mem.ts';
import { type LocalCluster, etcdLeader, getJson, startEtcdCluster } from './processes.ts';
import { scaleKey, scaleValue } from './scale-data.ts';
import type { ScaleOptions } from './scale.ts';
import { b64 } from './targets.ts';

export interface EtcdScale {
  readonly loadMs: number;
  readonly batch: number;
  readonly before: (Memory | undefined)[];
  readonly afterLoad: (Memory | undefined)[];
  readonly restartOneMs: number;
  readonly afterRestartOne: Memory | undefined;
  readonly restartAllMs: number;
  readonly afterRestartAll: (Memory | undefined)[];
}

const healthy = async (e: string): Promise<boolean> => {
  const r = await getJson(`${e}/health`);
  return r?.status === 200 && (r.body as { health?: unknown }).health === 'true';
};

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const memories = (c: LocalCluster): (Memory | undefined)[] => Array.from({ length: c.nodes.count() }, (_, i) => memoryOf(c.nodes.pid(i)));

/** A linearizable range of one loaded key answers (healthy alone does not say the data is served). */
async function serves(e: string, key: string): Promise<boolean> {
  const r = await getJson(`${e}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64(key) }) });
  return r?.status === 200 && ((r.body as { kvs?: unknown[] }).kvs?.length ?? 0) === 1;
}

export async function runEtcdScale(o: ScaleOptions): Promise<EtcdScale> {
  // 1000 puts a txn: a 7000-put txn timed out (etcdserver: request timed out) at 315 000 keys on the
  // loaded 2-core machine. A timed-out txn is retried (re-putting the same values changes nothing).
  const batch = Math.max(1, Math.min(o.batch, 1000));
  const cluster = await startEtcdCluster({
    ips: ['127.0.0.44', '127.0.0.45', '127.0.0.46'],
    clientPortBase: o.portBase + 201,
    peerPortBase: o.portBase + 301,
    etcdBin: o.etcdBin,
    extraArgs: ['--max-txn-ops', String(batch), '--max-request-bytes', String(8 * 2 ** 20), '--quota-backend-bytes', String(8 * 2 ** 30)],
  });
  const endpoints = cluster.endpoints;
  try {
    await sleep(2000);
    const before = memories(cluster);
    const leader = (await etcdLeader(endpoints)) ?? endpoints[0]!;
    console.error(`etcd: loading ${o.keys} keys into the leader ${leader} …`);
    const pool = new Pool(leader, { connections: 2, headersTimeout: 120_000, bodyTimeout: 120_000 });
    const t0 = performance.now();
    let next = 0;
    try {
      await Promise.all(
        Array.from({ length: 2 }, async () => {
          for (;;) {
            const from = next;
            if (from >= o.keys) return;
            const to = Math.min(o.keys, from + batch);
            next = to;
            const success = [];
            for (let i = from; i < to; i++)
              success.push({ request_put: { key: b64(scaleKey(i)), value: b64(scaleValue(i, o.valueBytes)) } });
            const body = JSON.stringify({ success });
            for (let attempt = 1; ; attempt++) {
              const res = await pool.request({ method: 'POST', path: '/v3/kv/txn', body });
              const text = await res.body.text();
              if (res.statusCode === 200) break;
              if (res.statusCode !== 503 || attempt >= 5)
                throw new Error(`etcd load at key ${from}: ${res.statusCode} ${text.slice(0, 200)}`);
              await sleep(500 * attempt);
            }
          }
        }),
      );
    } finally {
      await pool.close();
    }
    const loadMs = performance.now() - t0;
    await sleep(2000);
    const afterLoad = memories(cluster);
    console.error(`  etcd loaded in ${(loadMs / 1000).toFixed(1)} s; RSS ${afterLoad.map((m) => mib(m?.rss ?? Number.NaN)).join('/')} MiB`);
    const lastKey = scaleKey(o.keys - 1);

    const leaderNow = await etcdLeader(endpoints);
    const follower = endpoints.findIndex((e) => e !== leaderNow);
    await cluster.nodes.stop(follower);
    const startAt = performance.now();
    cluster.nodes.start(follower);
    await until(
      `etcd member ${follower} healthy and serving`,
      600_000,
      async () => (await healthy(endpoints[follower]!)) && serves(endpoints[follower]!, lastKey),
    );
    const restartOneMs = performance.now() - startAt;
    await sleep(1000);
    const afterRestartOne = memoryOf(cluster.nodes.pid(follower));
    console.error(`  etcd member ${follower} restarted: healthy ${(restartOneMs / 1000).toFixed(2)} s after start`);

    await Promise.all(endpoints.map((_, k) => cluster.nodes.stop(k)));
    const allAt = performance.now();
    for (let k = 0; k < endpoints.length; k++) cluster.nodes.start(k);
    await until('every etcd member healthy and serving', 600_000, async () =>
      (await Promise.all(endpoints.map(async (e) => (await healthy(e)) && serves(e, lastKey)))).every(Boolean),
    );
    const restartAllMs = performance.now() - allAt;
    await sleep(1000);
    const afterRestartAll = memories(cluster);
    console.error(`  etcd cluster restarted: all healthy ${(restartAllMs / 1000).toFixed(2)} s after start`);
    return { loadMs, batch, before, afterLoad, restartOneMs, afterRestartOne, restartAllMs, afterRestartAll };
  } finally {
    await cluster.stop(o.keep);
  }
}
