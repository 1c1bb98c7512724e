/**
 * Node crash: kill -9 the leader and followers repeatedly under load, restart them; the history
 * must stay linearizable and no acknowledged write may be lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { injectFault } from './faults.ts';
import { formatRun } from './report.ts';
import { ChaosRun } from './run.ts';

test('node crash: kill -9 leader and followers repeatedly under load', async () => {
  const run = await ChaosRun.setup({ nodes: 3, durationS: 0, seed: 101, faults: ['kill-leader', 'kill-follower'] });
  let report: Awaited<ReturnType<ChaosRun['finish']>>;
  try {
    run.workload.start();
    await sleep(1500);
    const ctx = { cluster: run.cluster, firewall: run.firewall, rng: run.rng.fork(2), recorder: run.recorder };
    const plan = ['kill-leader', 'kill-follower', 'kill-leader', 'kill-leader', 'kill-follower', 'kill-leader'] as const;
    for (const name of plan) {
      const started = run.recorder.now();
      const { detail, heal } = await injectFault(ctx, name);
      const w = run.recorder.faultStarted(name, detail, started);
      await sleep(1500);
      await heal();
      run.recorder.faultEnded(w);
      await sleep(1500);
    }
  } finally {
    report = await run.finish();
  }
  const text = formatRun(report, 1, 1).join('\n');
  assert.equal(report.faults.length, 6, text);
  const leaderKills = report.faults.filter((f) => f.name === 'kill-leader' && !f.detail.includes('no leader known')).length;
  assert.ok(leaderKills >= 2, `the leader was killed only ${leaderKills} times:\n${text}`);
  assert.ok(report.counts.ok > 100, `too little load got through:\n${text}`);
  assert.equal(report.error, undefined, text);
  assert.equal(report.violations, 0, text);
  assert.equal(report.lostWrites, 0, text);
  assert.equal(report.unknown, 0, text);
});
