/**
 * Membership changes under faults (3 → 4 → 3): under load, a new node joins (learner, then
 * promoted) while the leader is cut off (killed without iptables), the leader is removed while a
 * follower is down, and leadership is moved while the leader is paused longer than three
 * election timeouts. The history (lease reads included) must stay linearizable, no acknowledged
 * write may be lost, and the final members — a set the run changed — must hold identical data.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultName } from './faults.ts';
import { injectFault, minHoldMs } from './faults.ts';
import { probeFirewallForTest } from './firewall.ts';
import type { MembershipAction } from './membership.ts';
import { membershipStep, settleMembership } from './membership.ts';
import { formatRun } from './report.ts';
import type { RunReport } from './run.ts';
import { ChaosRun } from './run.ts';

const probe = probeFirewallForTest();

test('membership changes under faults: 3 → 4 → 3 nodes with a partition, a kill and a long pause', async () => {
  const run = await ChaosRun.setup({ nodes: 3, durationS: 0, seed: 404, faults: ['membership'] });
  let report: RunReport;
  const steps: string[] = [];
  let finalMembers: string[] = [];
  try {
    run.workload.start();
    await sleep(1500);
    const ctx = run.faultContext(run.rng.fork(2));
    const m = run.membershipContext(run.rng.fork(5));
    const plan: { under: FaultName; action: MembershipAction; removeLeader?: boolean }[] = [
      { under: probe.available ? 'partition-leader' : 'kill-leader', action: 'add' },
      { under: 'kill-follower', action: 'remove', removeLeader: true },
      { under: 'pause-leader-long', action: 'transfer' },
    ];
    for (const p of plan) {
      const started = run.recorder.now();
      const { detail, heal } = await injectFault(ctx, p.under);
      // Act once the fault has bitten and the cluster has a leader again (when it can get one).
      await sleep(500);
      await run.cluster.waitForLeader(5000).catch(() => undefined);
      const leader = p.removeLeader === true ? await run.cluster.leader() : undefined;
      const step = await membershipStep(m, p.action, leader);
      const w = run.recorder.faultStarted('membership', `${step}, during ${p.under}: ${detail}`, started);
      steps.push(w.detail);
      await sleep(Math.max(2000, minHoldMs(p.under, ctx) - (run.recorder.now() - started)));
      await heal();
      const gap = await settleMembership(m, 30_000);
      run.recorder.faultEnded(w);
      assert.equal(gap, '', `membership did not settle after "${w.detail}": ${gap}`);
      // Every member up and caught up (a promotion finished) before the next change.
      await run.cluster.waitConverged(30_000);
      await sleep(500);
    }
    finalMembers = run.cluster.memberIds();
  } finally {
    report = await run.finish();
  }
  const text = [...steps, ...formatRun(report, 1, 1)].join('\n');
  assert.equal(report.faults.length, 3, text);
  assert.equal(finalMembers.length, 3, text);
  assert.ok(finalMembers.includes('n4'), `n4 joined and stayed: ${finalMembers.join(',')}\n${text}`);
  if (probe.available) {
    assert.ok(
      report.faults.some((f) => f.detail.includes('partition-leader')) && (report.droppedPackets ?? 0) > 0,
      `the partition dropped no packet:\n${text}`,
    );
  }
  assert.ok(report.counts.ok > 100, `too little load got through:\n${text}`);
  assert.equal(report.error, undefined, text);
  assert.deepEqual(report.divergences, [], text);
  assert.equal(report.violations, 0, text);
  assert.equal(report.lostWrites, 0, text);
  assert.equal(report.unknown, 0, text);
});
