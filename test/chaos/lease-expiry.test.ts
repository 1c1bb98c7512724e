/**
 * Lease expiry under faults (issue 13), on real processes: a lease kept alive (a keepalive every
 * ttl/3, to random nodes) through three kill -9s of the leader never loses its keys; a lease
 * abandoned in a quiet cluster loses its keys no earlier than its TTL after its last keepalive
 * was sent and no later than TTL + a small bound after it was answered; one abandoned just before
 * the leader is killed loses them within TTL + the time without a leader + TTL (docs/api.md
 * "Expiry": the new leader starts every lease's TTL again) plus the same bound. Measured figures
 * are printed. The register workload runs beside it and is checked as usual.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatRun } from './report.ts';
import type { RunReport } from './run.ts';
import { ChaosRun } from './run.ts';

/** The slack allowed on top of the documented expiry delay (2 × ELECTION_TIMEOUT + LEASE_CHECK_INTERVAL = 1.25 s here), for a loaded CI machine. */
const SLACK_MS = 3000;

interface Lease {
  readonly id: string;
  readonly ttlMs: number;
  readonly keys: readonly string[];
  /** Send time of the last keepalive that was answered 200, and its answer time. */
  lastSent: number;
  lastAnswered: number;
  keepalives: number;
  failed: number;
  stop: boolean;
}

test('lease expiry under leader kills: a kept-alive lease keeps its keys, abandoned ones expire within the bound', async () => {
  const leases: Lease[] = [];
  const loops: Promise<void>[] = [];
  const run = await ChaosRun.setup({ nodes: 3, durationS: 0, seed: 613, faults: ['kill-leader'], workload: { clients: 3 } });
  const lines: string[] = [];
  const log = (line: string): void => {
    lines.push(line);
    run.note(line);
  };
  const now = (): number => performance.now();
  const pick = (): string => run.rng.pick(run.cluster.responsive());
  const call = async (method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown) => {
    try {
      return await run.clients.send(pick(), method, path, body);
    } catch {
      return { status: 0, body: '' };
    }
  };
  /** Repeat until 200 (bounded): the setup steps below are safe to repeat. */
  const until200 = async (what: string, method: 'PUT' | 'POST', path: string, body: unknown): Promise<Record<string, unknown>> => {
    for (let i = 0; i < 50; i++) {
      const res = await call(method, path, body);
      if (res.status === 200) return JSON.parse(res.body) as Record<string, unknown>;
      await sleep(100);
    }
    throw new Error(`${what} did not succeed`);
  };
  /** Grant a lease, start keeping it alive at once (a loaded machine may take longer than its TTL to put the keys), put its keys. */
  const grant = async (name: string): Promise<Lease> => {
    const g = await until200(`grant ${name}`, 'POST', '/lease', { ttl: 2 });
    const t = now();
    const keys = [`lease-${name}/1`, `lease-${name}/2`];
    const l: Lease = {
      id: String(g.id),
      ttlMs: Number(g.ttl) * 1000,
      keys,
      lastSent: t,
      lastAnswered: t,
      keepalives: 0,
      failed: 0,
      stop: false,
    };
    leases.push(l);
    loops.push(keepAlive(l));
    for (const k of keys) await until200(`put ${k}`, 'PUT', `/key/${encodeURIComponent(k)}`, { value: name, lease: l.id });
    return l;
  };
  const keepAlive = async (l: Lease): Promise<void> => {
    while (!l.stop) {
      const sent = now();
      const res = await call('POST', `/lease/${l.id}/keepalive`);
      if (res.status === 200) {
        l.lastSent = sent;
        l.lastAnswered = now();
        l.keepalives++;
        await sleep(Math.max(0, l.ttlMs / 3 - (now() - sent)));
        continue;
      }
      if (l.failed++ < 5) log(`lease ${l.id}: keepalive answered ${res.status} ${res.body.slice(0, 200)}`);
      // A failed keepalive is retried soon (on another node), as a lease owner should: waiting a
      // full ttl/3 after each failure let two failures around a failover eat the whole 2 s TTL (CI run at
      // fc01b4d: 19 of 33 keepalives failed, the kept lease expired after the second kill).
      await sleep(100);
    }
  };
  /** Stop keeping `l` alive right after its next answered keepalive; resolves then. */
  const abandon = async (l: Lease): Promise<void> => {
    const before = l.keepalives;
    const deadline = now() + 5 * l.ttlMs;
    while (l.keepalives === before) {
      if (now() > deadline) {
        l.stop = true;
        throw new Error(`lease ${l.id}: no keepalive answered for ${5 * l.ttlMs} ms:\n${lines.join('\n')}`);
      }
      await sleep(10);
    }
    l.stop = true;
  };
  /** Linearizable reads of `l`'s keys; which are absent (undefined: no answer). */
  const absentKeys = async (l: Lease): Promise<string[] | undefined> => {
    const out: string[] = [];
    for (const k of l.keys) {
      const res = await call('GET', `/key/${encodeURIComponent(k)}`);
      if (res.status === 404) out.push(k);
      else if (res.status !== 200) return undefined;
    }
    return out;
  };
  /** Poll until every key of `l` is gone; returns the time of the first read that saw them all gone. */
  const goneAt = async (l: Lease, limitMs: number): Promise<number> => {
    const deadline = now() + limitMs;
    while (now() < deadline) {
      const absent = await absentKeys(l);
      const t = now();
      if (absent !== undefined && absent.length === l.keys.length) return t;
      if (absent !== undefined && absent.length > 0)
        log(`lease ${l.id}: ${absent.join(', ')} gone, the other not yet (two reads: the expiry may fall between them)`);
      await sleep(50);
    }
    throw new Error(`lease ${l.id}'s keys still there ${limitMs} ms after abandoning it`);
  };
  const killLeader = async (): Promise<number> => {
    const leader = await run.cluster.waitForLeader(30_000);
    const w = run.recorder.faultStarted('kill-leader', leader);
    await run.cluster.kill(leader);
    const killed = now();
    log(`killed leader ${leader}`);
    await run.cluster.waitForLeader(30_000);
    const leaderless = now() - killed;
    await sleep(700);
    run.cluster.restart(leader);
    run.recorder.faultEnded(w);
    // The restarted node catches up before the next kill (else two of three cannot elect anyone).
    await run.cluster.waitConverged(60_000);
    return leaderless;
  };

  let report: RunReport | undefined;
  let monitoring = true;
  const early: string[] = [];
  let keptLost = 0;
  let monitorReads = 0;
  try {
    run.workload.start();
    const kept = await grant('kept');
    const quiet = await grant('quiet');
    const failover = await grant('failover');
    const monitor = (async () => {
      while (monitoring) {
        const absent = await absentKeys(kept);
        if (absent !== undefined) monitorReads++;
        if (absent !== undefined && absent.length > 0) {
          keptLost++;
          log(`kept-alive lease ${kept.id} lost ${absent.join(', ')}`);
        }
        await sleep(100);
      }
    })();

    await sleep(1000);
    const l1 = await killLeader();
    log(`leader kill 1: ${l1.toFixed(0)} ms without a leader`);

    // Quiet abandonment: no fault until its keys are gone.
    await sleep(500);
    await abandon(quiet);
    const quietGone = await goneAt(quiet, quiet.ttlMs + 20_000);
    const quietLate = quietGone - quiet.lastAnswered - quiet.ttlMs;
    if (quietGone < quiet.lastSent + quiet.ttlMs)
      early.push(`quiet lease expired ${(quiet.lastSent + quiet.ttlMs - quietGone).toFixed(0)} ms early`);
    log(
      `quiet lease ${quiet.id}: keys gone ${(quietGone - quiet.lastAnswered).toFixed(0)} ms after its last keepalive was answered (ttl ${quiet.ttlMs} ms, ${quietLate.toFixed(0)} ms late)`,
    );

    // Abandoned just before the leader dies.
    await abandon(failover);
    // Poll from now on, through the kill (reads without a leader simply get no answer).
    const failGoneP = goneAt(failover, 2 * failover.ttlMs + 30_000);
    const l2 = await killLeader();
    log(`leader kill 2: ${l2.toFixed(0)} ms without a leader`);
    const failGone = await failGoneP;
    if (failGone < failover.lastSent + failover.ttlMs)
      early.push(`failover lease expired ${(failover.lastSent + failover.ttlMs - failGone).toFixed(0)} ms early`);
    const failAfter = failGone - failover.lastAnswered;
    log(
      `failover lease ${failover.id}: keys gone ${failAfter.toFixed(0)} ms after its last keepalive was answered (ttl ${failover.ttlMs} ms, ${l2.toFixed(0)} ms leaderless)`,
    );

    const l3 = await killLeader();
    log(`leader kill 3: ${l3.toFixed(0)} ms without a leader`);
    // Two more TTLs with the kept lease alive across the restarted node rejoining.
    await sleep(2 * kept.ttlMs);
    monitoring = false;
    await monitor;
    kept.stop = true;
    await Promise.all(loops);
    const text = (): string => lines.join('\n');
    log(
      `kept lease ${kept.id}: ${kept.keepalives} keepalives answered, ${kept.failed} failed; ${monitorReads} reads of its keys, ${keptLost} saw a key gone`,
    );

    assert.equal(keptLost, 0, `a kept-alive lease lost keys:\n${text()}`);
    assert.ok(monitorReads > 20, `too few reads of the kept lease's keys (${monitorReads}):\n${text()}`);
    assert.deepEqual(early, [], text());
    assert.ok(quietLate <= SLACK_MS, `quiet lease expired ${quietLate.toFixed(0)} ms after ttl (bound ${SLACK_MS}):\n${text()}`);
    const failBound = failover.ttlMs + l2 + failover.ttlMs + SLACK_MS;
    assert.ok(
      failAfter <= failBound,
      `failover lease expired after ${failAfter.toFixed(0)} ms (bound ${failBound.toFixed(0)}):\n${text()}`,
    );
  } finally {
    // Whatever failed above, no loop may outlive the run.
    monitoring = false;
    for (const l of leases) l.stop = true;
    report = await run.finish();
  }
  const text = [...lines, ...formatRun(report, 1, 1)].join('\n');
  console.log(text);
  assert.equal(report.error, undefined, text);
  assert.deepEqual(report.divergences, [], text);
  assert.equal(report.violations, 0, text);
  assert.equal(report.lostWrites, 0, text);
});
