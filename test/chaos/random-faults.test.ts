/**
 * A short random-fault run: every fault kind this machine allows (all of them as root), seeded,
 * must end with 0 violations and 0 lost acknowledged writes. With iptables (always under CI) at
 * least one network fault must have run and dropped packets: a run that only looked like it
 * partitioned something proves nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_FAULTS, isNetworkFault } from './faults.ts';
import { probeFirewallForTest } from './firewall.ts';
import { formatRun } from './report.ts';
import { runChaos } from './run.ts';

const probe = probeFirewallForTest();

test('short random-fault run (3 nodes, all faults)', async () => {
  const lines: string[] = [];
  const report = await runChaos({
    nodes: 3,
    durationS: 25,
    seed: 303,
    faults: ALL_FAULTS,
    schedule: { quietMs: [500, 1500], holdMs: [1500, 3500] },
    log: (l) => lines.push(l),
  });
  const text = [...lines, ...formatRun(report, 1, 1)].join('\n');
  assert.ok(report.faults.length >= 4, `only ${report.faults.length} faults ran:\n${text}`);
  if (probe.available) {
    const network = report.faults.filter((f) => isNetworkFault(f.name as (typeof ALL_FAULTS)[number]));
    assert.ok(network.length > 0, `no network fault ran:\n${text}`);
    assert.ok((report.droppedPackets ?? 0) > 0, `the network faults dropped no packet:\n${text}`);
  }
  assert.ok(report.counts.ok > 100, text);
  assert.equal(report.error, undefined, text);
  assert.deepEqual(report.divergences, [], text);
  assert.equal(report.violations, 0, text);
  assert.equal(report.lostWrites, 0, text);
  assert.equal(report.unknown, 0, text);
});
