/**
 * A full disk with real processes: each node of a 3-node cluster has its data directory on its own
 * small tmpfs (mounted here, as root). While writes go on, every tmpfs is filled to the last byte
 * with a filler file. Then: writes get 507 GRAFTD_DISK_FULL with a JSON error body (on the leader,
 * and on a follower, which forwards to the leader and passes its answer through); every write that
 * was acknowledged is still readable (linearizable on the leader and a follower, stale on each
 * node); no node has failed (/healthz 200, /status fault empty, /status diskFull names the WAL file
 * on the leader); the condition is logged once. Once the fillers are deleted, writes are accepted
 * again without a restart, and everything written before and after is readable.
 *
 * Needs root (mount/umount). Without it, or when mount fails, the test is skipped with the reason,
 * except under CI=true, where it fails instead: CI runs as root and must run it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from './cluster.ts';

const IDS = ['d0', 'd1', 'd2'] as const;
const TMPFS_SIZE = '64m';
/** Large values reach the WAL's preallocation steps (4 MiB + 1 MiB reserve) in ~100 writes. */
const VALUE = 'x'.repeat(48 * 1024);

const c = new Cluster({
  ips: ['127.0.0.111', '127.0.0.112', '127.0.0.113'],
  httpPortBase: 15160,
  raftPortBase: 16160,
  // A loaded 2-core box must not start an election while the disks are full (a vote needs a durable
  // hardstate file, which a full disk cannot take); REQUEST_TIMEOUT bounds a write caught in between.
  env: { HEARTBEAT_TIMEOUT: '100', ELECTION_TIMEOUT: '2000', REQUEST_TIMEOUT: '5000' },
});
const mounted: string[] = [];
let skipReason = '';

function mountTmpfs(dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', dir], { stdio: 'pipe' });
  mounted.push(dir);
}

before(async () => {
  if (process.getuid?.() !== 0) {
    skipReason = 'needs root to mount a tmpfs (run as root, e.g. in CI)';
  } else {
    try {
      for (const id of IDS) mountTmpfs(c.info(id).dataDir);
    } catch (err) {
      skipReason = `mounting a tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
    }
  }
  if (skipReason !== '') {
    if (process.env.CI === 'true') throw new Error(`disk-full test cannot run under CI: ${skipReason}`);
    return;
  }
  await c.startVoters(IDS);
});

after(async () => {
  // Processes first (they hold files on the mounts), then the mounts, then the temp root.
  for (const id of c.running()) await c.kill(id);
  for (const dir of mounted) {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
  }
  await c.destroy();
});

/** Fill the file system holding `dir` to the last byte; returns the filler's path and size. */
function fill(dir: string): { path: string; bytes: number } {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 0xaa);
  let bytes = 0;
  try {
    for (;;) {
      try {
        bytes += writeSync(fd, chunk, 0, chunk.length);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        break;
      }
    }
    // The last partial block: fill with smaller writes until nothing fits.
    for (let size = 64 * 1024; size >= 512; size /= 2) {
      for (;;) {
        try {
          bytes += writeSync(fd, chunk, 0, size);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return { path, bytes };
}

async function write(id: string, key: string, value: string): Promise<{ status: number; text: string }> {
  return c.post(id, '/key', { [key]: value });
}

async function read(id: string, key: string, level: string): Promise<{ status: number; text: string }> {
  return c.get(id, `/key/${key}?level=${level}`);
}

test('a full disk: 507 for writes, acknowledged writes and reads intact, no failed node; space freed → writes again', async (t) => {
  if (skipReason !== '') {
    t.skip(skipReason);
    return;
  }
  const leader = await c.waitForLeader();
  const follower = IDS.find((id) => id !== leader) as string;
  const acked: string[] = [];
  let n = 0;
  for (; n < 10; n++) {
    const r = await write(n % 2 === 0 ? leader : follower, `k${n}`, VALUE);
    assert.equal(r.status, 200, r.text);
    acked.push(`k${n}`);
  }
  const fillers = IDS.map((id) => fill(c.info(id).dataDir));
  // Keep writing until the leader refuses (the WAL first uses the space it already preallocated).
  let refused: { status: number; text: string } | undefined;
  const others: number[] = [];
  for (; n < 600 && refused === undefined; n++) {
    const r = await write(n % 2 === 0 ? leader : follower, `k${n}`, VALUE);
    if (r.status === 200) acked.push(`k${n}`);
    else if (r.status === 507) refused = r;
    else others.push(r.status);
  }
  assert.ok(refused !== undefined, `no write was refused after ${n} writes (other answers: ${others.join(',')})`);
  assert.deepEqual(others, [], 'every write was either acknowledged or refused with 507');
  const body = JSON.parse(refused.text) as { error: string; code: string };
  assert.equal(body.code, 'GRAFTD_DISK_FULL');
  assert.match(body.error, /disk full \(ENOSPC\)/);

  // Both the leader and a follower refuse (the follower forwards and passes the 507 through).
  for (const id of [leader, follower]) {
    const r = await write(id, 'refused', 'v');
    assert.equal(r.status, 507, `${id}: ${r.text}`);
    assert.equal((JSON.parse(r.text) as { code: string }).code, 'GRAFTD_DISK_FULL');
  }

  // Nothing acknowledged is lost, reads work on every level; no node failed.
  for (const key of acked) {
    for (const [id, level] of [
      [leader, 'linearizable'],
      [follower, 'linearizable'],
    ] as const) {
      const r = await read(id, key, level);
      assert.equal(r.status, 200, `${key} on ${id} (${level}): ${r.text}`);
      assert.equal((JSON.parse(r.text) as Record<string, string>)[key], VALUE);
    }
  }
  for (const id of IDS) {
    await c.waitStatus(id, (s) => s.appliedIndex === s.commitIndex);
    for (const key of acked) {
      const r = await read(id, key, 'stale');
      assert.equal(r.status, 200, `${key} on ${id} (stale): ${r.text}`);
    }
    assert.equal((await read(id, 'refused', 'stale')).status, 404, 'a refused write had no effect');
    assert.equal((await c.get(id, '/healthz')).status, 200, `${id} is alive, not failed`);
    const s = await c.status(id);
    assert.equal(s?.fault, '', `${id} has no fault`);
  }
  const ls = await c.status(leader);
  assert.match(String(ls?.diskFull), new RegExp(`${c.info(leader).dataDir}/wal/`), 'the leader names the file');
  const metrics = await c.get(leader, '/metrics');
  assert.match(metrics.text, /^graftd_disk_full\{[^}]*\} 1$/m);
  assert.match(metrics.text, /^graftd_disk_full_events_total\{[^}]*\} 1$/m);

  // Space is freed: writes are accepted again, no restart (the node rechecks within its backoff, ≤ 1 s).
  for (const f of fillers) unlinkSync(f.path);
  const deadline = Date.now() + 20_000;
  let ok = false;
  let last = '';
  while (!ok && Date.now() < deadline) {
    const r = await write(leader, 'after', 'yes');
    ok = r.status === 200;
    last = `${r.status} ${r.text}`;
    if (!ok) await sleep(200);
  }
  assert.ok(ok, `writes were not accepted again after the space was freed; last answer: ${last}`);
  for (let i = 0; i < 30; i++, n++) {
    const r = await write(i % 2 === 0 ? leader : follower, `k${n}`, VALUE);
    assert.equal(r.status, 200, r.text);
    acked.push(`k${n}`);
  }
  for (const key of [...acked, 'after']) {
    const r = await read(follower, key, 'linearizable');
    assert.equal(r.status, 200, `${key}: ${r.text}`);
  }
  for (const id of IDS) {
    assert.equal((await c.get(id, '/healthz')).status, 200);
    const s = await c.status(id);
    assert.equal(s?.fault, '');
    // A node's condition clears by itself once its WAL could allocate again (the followers on their next append).
    await c.waitStatus(id, (st) => st.diskFull === '', 10_000);
  }
  // Logged once per episode, with the path.
  const log = readFileSync(c.info(leader).logFile, 'utf8');
  const lines = log.split('\n').filter((l) => l.includes('WAL: disk full'));
  assert.equal(lines.length, 1, `the leader logged the disk-full condition ${lines.length} times`);
  assert.match(lines[0] as string, new RegExp(`"path":"${c.info(leader).dataDir}/wal/`));
  t.diagnostic(
    `acknowledged ${acked.length} writes of ${VALUE.length} bytes; filler sizes ${fillers.map((f) => (f.bytes / 2 ** 20).toFixed(1)).join('/')} MiB; ` +
      `first 507 after ${acked.length - 30} acknowledged writes`,
  );
});
