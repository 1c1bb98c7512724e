/**
 * Rolling restart under a steady write load (127.0.0.55, HTTP 19030+, raft 19130+): a
 * leadership transfer, then SIGTERM and restart of every node in turn, the leader first.
 * Every client request is counted; none may fail, and every acknowledged write must be read
 * back. The counts are printed (they go in the closing note), never compared with timings.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraftdClient, GraftdClientError } from '../../src/client/index.ts';
import { Cluster } from '../integration/cluster.ts';
import { ctlOk, endpointsOf, startJoinedCluster, statusOf, waitFor } from './helpers.ts';

const WRITERS = 4;

interface LoadStats {
  ok: number;
  failed: number;
  failures: string[];
  maxLatencyMs: number;
  lastAcked: Map<string, number>;
}

/** `WRITERS` loops, each writing increasing numbers to its own key until `stop` is set. */
function startLoad(client: GraftdClient, stop: { done: boolean }): { stats: LoadStats; finished: Promise<void> } {
  const stats: LoadStats = { ok: 0, failed: 0, failures: [], maxLatencyMs: 0, lastAcked: new Map() };
  const writer = async (w: number): Promise<void> => {
    const key = `load-${w}`;
    for (let seq = 1; !stop.done; seq++) {
      const started = Date.now();
      try {
        await client.set({ [key]: String(seq) });
        stats.ok++;
        stats.lastAcked.set(key, seq);
      } catch (err) {
        stats.failed++;
        const detail = err instanceof GraftdClientError ? `${err.code} ${err.message}` : String(err);
        if (stats.failures.length < 20) stats.failures.push(detail);
        if (err instanceof GraftdClientError && err.outcomeUnknown) {
          // The value may or may not be applied: later reads must not be compared with lastAcked.
          stats.lastAcked.delete(key);
          return;
        }
      }
      stats.maxLatencyMs = Math.max(stats.maxLatencyMs, Date.now() - started);
    }
  };
  const finished = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w))).then(() => undefined);
  return { stats, finished };
}

test('rolling restart of all three nodes under a steady write load: zero failed requests', async () => {
  const cluster = new Cluster({
    ips: ['127.0.0.55'],
    httpPortBase: 19030,
    raftPortBase: 19130,
    env: { LOG_LEVEL: process.env.OPS_LOG_LEVEL ?? 'info' },
  });
  const ids = ['n0', 'n1', 'n2'];
  const client = new GraftdClient({ endpoints: endpointsOf(cluster, ids).split(','), timeoutMs: 10_000, retries: 12 });
  const stop = { done: false };
  let load: ReturnType<typeof startLoad> | undefined;
  try {
    await startJoinedCluster(cluster, ids);
    load = startLoad(client, stop);
    const progressed = async (min: number): Promise<void> => {
      const target = load!.stats.ok + min;
      await waitFor(`${min} more acknowledged writes`, async () => (load!.stats.ok >= target || load!.stats.failed > 0 ? true : undefined));
    };
    await progressed(50);

    // Leadership transfer under load.
    const first = await cluster.waitForLeader();
    const target = ids.find((id) => id !== first)!;
    await ctlOk(cluster, ids, ['transfer-leader', target]);
    assert.equal(await cluster.waitForLeader(), target);
    await progressed(50);

    // Rolling restart, the leader first.
    const leader = await cluster.waitForLeader();
    const order = [leader, ...ids.filter((id) => id !== leader)];
    const restarts: string[] = [];
    for (const id of order) {
      const wasLeader = (await statusOf(cluster, id))?.role === 'leader';
      const code = await cluster.stop(id);
      assert.equal(code, 0, `${id} exits 0 on SIGTERM`);
      await progressed(30); // the cluster keeps serving with one node down
      await cluster.startNode(id);
      const leaderNow = await cluster.waitForLeader();
      const leaderStatus = await statusOf(cluster, leaderNow);
      const commit = leaderStatus?.commitIndex ?? 0;
      await waitFor(`${id} caught up`, async () => {
        const s = await statusOf(cluster, id);
        return s !== undefined && s.appliedIndex >= commit && s.leaderId !== '' ? true : undefined;
      });
      await progressed(30);
      restarts.push(`${id}${wasLeader ? ' (leader)' : ''}`);
    }
    stop.done = true;
    await load.finished;

    const { stats } = load;
    console.log(
      `rolling restart (${restarts.join(', ')}) with ${WRITERS} writers: ${stats.ok + stats.failed} write requests, ` +
        `${stats.ok} acknowledged, ${stats.failed} failed; slowest acknowledged write ${stats.maxLatencyMs} ms; ` +
        `client: ${JSON.stringify(client.stats())}`,
    );
    assert.deepEqual(stats.failures, [], 'no client request failed');
    assert.equal(stats.failed, 0);
    assert.ok(restarts[0]?.endsWith('(leader)'), 'the first node stopped was the leader');
    for (const [key, seq] of stats.lastAcked) assert.equal(await client.get(key), String(seq), `${key} holds its last acknowledged value`);
    assert.equal(stats.lastAcked.size, WRITERS);
  } finally {
    stop.done = true;
    await load?.finished;
    await client.close();
    await cluster.destroy();
  }
});
