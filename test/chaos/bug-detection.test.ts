/**
 * The harness catches a real bug: with GRAFTD_TEST_FAULT the server deliberately breaks its
 * guarantees, and a run must report violations and point at them (a failing key with a minimal
 * sub-history, the HTML timeline, the replay command). Without this test a harness that checks
 * nothing would pass.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { casModel, registerModel } from '../../src/check/model.ts';
import { searchLinearizable } from '../../src/check/search.ts';
import { probeFirewallForTest } from './firewall.ts';
import { formatRun } from './report.ts';
import { runChaos } from './run.ts';

// Under CI=true an unusable iptables fails this file instead of skipping it.
const probe = probeFirewallForTest();

test('no-check-quorum: an isolated old leader that keeps serving reads without a quorum is caught', {
  skip: probe.available ? false : `network faults skipped: ${probe.reason} (isolating the leader needs iptables)`,
}, async () => {
  const report = await runChaos({
    nodes: 3,
    durationS: 12,
    seed: 405,
    faults: ['partition-leader'],
    testFault: 'no-check-quorum',
    schedule: { quietMs: [800, 1200], holdMs: [3500, 4500] },
  });
  const text = formatRun(report, 1, 1).join('\n');
  assert.ok(report.violations > 0, `the broken server was not caught:\n${text}`);
  const failing = report.keys.filter((k) => k.verdict === 'fail');
  assert.ok(failing.length > 0, text);
  for (const k of failing) {
    // Shrinking has a time budget, so how far it gets depends on the machine; what must hold is
    // that the sub-history is smaller than the key's history and fails on its own.
    assert.ok(k.failing.length > 0 && k.failing.length < k.ops, `sub-history of ${k.key} not shrunk: ${k.failing.length} of ${k.ops} ops`);
    assert.equal(
      searchLinearizable(k.failing, registerModel, { timeoutMs: 10_000 }).kind,
      'fail',
      `sub-history of ${k.key} must fail alone`,
    );
    assert.ok(
      k.failing.some((o) => o.op === 'read'),
      'a failing sub-history shows the bad read',
    );
  }
  assert.ok(report.timelineFile !== undefined && existsSync(report.timelineFile), 'timeline written');
  const html = readFileSync(report.timelineFile!, 'utf8');
  assert.match(html, /class="op [^"]* bad"/);
  assert.match(html, /partition-leader/);
  assert.ok(existsSync(`${report.runDir}/n1.log`), 'node logs kept');
  assert.match(
    text,
    /replay: npm run chaos -- --nodes 3 --duration 12 --seed 405 --faults partition-leader --runs 1 --test-fault no-check-quorum/,
  );
});

test('stale-linearizable-reads: linearizable reads answered from a lagging follower are caught', {
  skip: probe.available ? false : `network faults skipped: ${probe.reason} (isolating a follower needs iptables)`,
}, async () => {
  const report = await runChaos({
    nodes: 3,
    durationS: 12,
    seed: 7,
    faults: ['partition-follower'],
    testFault: 'stale-linearizable-reads',
    schedule: { quietMs: [800, 1200], holdMs: [3500, 4500] },
  });
  const text = formatRun(report, 1, 1).join('\n');
  assert.ok(report.violations > 0, `the broken server was not caught:\n${text}`);
  assert.ok(
    report.keys.some((k) => k.verdict === 'fail' && k.failing.some((o) => o.op === 'read')),
    `a failing key shows the bad read:\n${text}`,
  );
});

test('stale-compare: conditional writes decided on a node’s local state before proposing are caught', async () => {
  // Up to 3 seeded attempts: contention makes two clients race on one expectation within a few
  // seconds in practice, but no single schedule is guaranteed to produce the race.
  const texts: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const report = await runChaos({
      nodes: 3,
      durationS: 8,
      seed: 1301 + attempt,
      faults: ['kill-follower'],
      testFault: 'stale-compare',
      workload: { kind: 'cas' },
      schedule: { quietMs: [1500, 2500], holdMs: [1500, 2500] },
    });
    const text = formatRun(report, 1, 1).join('\n');
    texts.push(text);
    const failing = report.keys.filter((k) => k.verdict === 'fail');
    if (report.violations === 0 || failing.length === 0) continue;
    for (const k of failing) {
      assert.ok(k.failing.length > 0 && k.failing.length <= k.ops, `sub-history of ${k.key}: ${k.failing.length} of ${k.ops} ops`);
      assert.equal(searchLinearizable(k.failing, casModel, { timeoutMs: 10_000 }).kind, 'fail', `sub-history of ${k.key} must fail alone`);
    }
    assert.ok(
      failing.some((k) => k.failing.some((o) => o.op === 'cas' || o.op === 'txn')),
      `a failing key shows a conditional operation:\n${text}`,
    );
    assert.match(text, /--workload cas/);
    return;
  }
  assert.fail(`the broken server was not caught in 3 runs:\n${texts.join('\n')}`);
});
