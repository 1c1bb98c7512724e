/**
 * Defaults: on loopback with no flags a node is not "insecure"; reachable from other hosts
 * (a wildcard HTTP address here) with no users and no secret, it starts anyway but warns loudly
 * and says `"insecure": true` on /status. Traffic goes to loopback only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type NodeProcess, TEST_ENV, spawnGraftd } from './cluster.ts';

const root = mkdtempSync(join(tmpdir(), 'graftd-insecure-'));
const procs: NodeProcess[] = [];
after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  rmSync(root, { recursive: true, force: true });
});

async function statusOf(addr: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${addr}/status`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return (await res.json()) as Record<string, unknown>;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`no /status from ${addr}`);
}

function run(id: string, haddr: string, raddr: string): NodeProcess {
  const info = {
    id,
    ip: raddr.split(':')[0]!,
    httpAddr: haddr,
    raftAddr: raddr,
    dataDir: join(root, id),
    logFile: join(root, `${id}.log`),
  };
  const p = spawnGraftd(['-id', id, '-haddr', haddr, '-raddr', raddr, info.dataDir], TEST_ENV, info.logFile, info);
  procs.push(p);
  return p;
}

test('loopback without flags: works, not insecure, no warning', async () => {
  run('lo', '127.0.0.96:15096', '127.0.0.96:16096');
  const s = await statusOf('127.0.0.96:15096');
  assert.equal(s.insecure, false);
  assert.doesNotMatch(readFileSync(join(root, 'lo.log'), 'utf8'), /INSECURE/);
});

test('HTTP on all interfaces without users: starts, warns loudly, /status says insecure', async () => {
  run('wild', '0.0.0.0:15097', '127.0.0.97:16097');
  const s = await statusOf('127.0.0.97:15097');
  assert.equal(s.insecure, true);
  const log = readFileSync(join(root, 'wild.log'), 'utf8');
  assert.match(log, /INSECURE: the HTTP API 0\.0\.0\.0:15097 is reachable from other hosts/);
});
