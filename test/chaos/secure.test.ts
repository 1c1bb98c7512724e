/**
 * Secure mode under faults: every node with peer TLS, HTTPS, the cluster secret and an auth file;
 * the leader and followers are killed and (with iptables) the leader is cut off, under load over
 * https as the admin. The history must stay linearizable with no acknowledged write lost, and the
 * nodes must really be secure: no answer without credentials, nothing about the cluster for a
 * stranger on the raft port.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultName } from './faults.ts';
import { injectFault } from './faults.ts';
import { probeFirewallForTest } from './firewall.ts';
import { formatRun } from './report.ts';
import type { RunReport } from './run.ts';
import { ChaosRun } from './run.ts';

/** Send `garbage` to host:port; resolve with every byte received and whether the peer closed within `timeoutMs`. */
function poke(addr: string, garbage: Buffer, timeoutMs: number): Promise<{ received: Buffer; closed: boolean }> {
  const [host, port] = addr.split(':') as [string, string];
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port: Number(port), localAddress: '127.0.0.1' });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed: false });
    }, timeoutMs);
    socket.on('connect', () => socket.write(garbage));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closed: true });
    });
  });
}

// The partitions need iptables: under CI=true its absence fails the file (elsewhere they are left out).
probeFirewallForTest();

test('secure mode: TLS + secret + auth under kill-leader, kill-follower and a partition', async () => {
  const run = await ChaosRun.setup({
    nodes: 3,
    durationS: 0,
    seed: 303,
    faults: ['kill-leader', 'kill-follower', 'partition-leader'],
    secure: true,
  });
  let report: RunReport;
  try {
    const security = run.cluster.security!;
    const n1 = run.cluster.spec('n1');
    const leader = await run.cluster.waitForLeader(10_000);
    const clusterId = (await run.cluster.status(leader))?.clusterId ?? '';
    assert.ok(clusterId.length > 0, 'the admin sees the cluster id on /status');

    // HTTP: https only, and nothing but /healthz and /readyz without credentials.
    const anon = await security.fetch(`https://${n1.httpAddr}/key/anything`, { anonymous: true, signal: AbortSignal.timeout(3000) });
    assert.equal(anon.status, 401, 'GET /key without credentials');
    assert.equal(((await anon.json()) as { code?: string }).code, 'GRAFTD_UNAUTHORIZED');
    const anonStatus = await security.fetch(`https://${n1.httpAddr}/status`, { anonymous: true, signal: AbortSignal.timeout(3000) });
    assert.equal(anonStatus.status, 401, 'GET /status without credentials');
    assert.ok(!(await anonStatus.text()).includes(clusterId), '/status without credentials leaks the cluster id');
    const health = await security.fetch(`https://${n1.httpAddr}/healthz`, { anonymous: true, signal: AbortSignal.timeout(3000) });
    assert.equal(health.status, 200, '/healthz stays open');
    await health.body?.cancel();
    await assert.rejects(
      fetch(`http://${n1.httpAddr}/key/anything`, { signal: AbortSignal.timeout(3000) }),
      'plain HTTP on the HTTPS port',
    );

    // Raft port: a stranger sending garbage is cut off and learns nothing about the cluster.
    for (const s of run.cluster.specs) {
      const garbage = Buffer.concat([Buffer.from('GET /status HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(4096, 0xa5)]);
      const { received, closed } = await poke(s.raftAddr, garbage, 10_000);
      assert.ok(closed, `${s.id}'s raft port kept a garbage-sending connection open`);
      assert.ok(!received.includes(clusterId), `${s.id}'s raft port sent the cluster id to a stranger`);
      assert.ok(!received.toString('latin1').includes(clusterId));
    }

    // Faults under load, all over https as the admin. Partitions need iptables (run.faults drops them otherwise).
    run.workload.start();
    await sleep(1500);
    const ctx = { cluster: run.cluster, firewall: run.firewall, rng: run.rng.fork(2), recorder: run.recorder };
    const wanted: FaultName[] = ['kill-leader', 'kill-follower', 'partition-leader', 'kill-leader', 'kill-follower', 'partition-leader'];
    for (const name of wanted.filter((f) => run.faults.includes(f))) {
      const started = run.recorder.now();
      const { detail, heal } = await injectFault(ctx, name);
      const w = run.recorder.faultStarted(name, detail, started);
      await sleep(2000);
      await heal();
      run.recorder.faultEnded(w);
      await sleep(1500);
    }
  } finally {
    report = await run.finish();
  }
  const text = formatRun(report, 1, 1).join('\n');
  const expected = run.firewall === undefined ? 4 : 6;
  assert.equal(report.faults.length, expected, text);
  assert.ok(report.counts.ok > 100, `too little load got through:\n${text}`);
  assert.equal(report.error, undefined, text);
  assert.equal(report.violations, 0, text);
  assert.equal(report.lostWrites, 0, text);
  assert.equal(report.unknown, 0, text);
});
