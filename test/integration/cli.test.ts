/**
 * The command line's error paths with real processes: each is one readable line and exit 1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GRAFTD_BIN } from './cluster.ts';

const root = mkdtempSync(join(tmpdir(), 'graftd-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

function run(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [GRAFTD_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const addrs = ['-haddr', '127.0.0.31:15030', '-raddr', '127.0.0.31:16030'];

test('no data directory: the original message, exit 1', async () => {
  const r = await run(['-id', 'x', ...addrs]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), 'No Raft storage directory specified');
});

test('a bad address: one line naming it, exit 1', async () => {
  const r = await run(['-id', 'x', '-haddr', '127.0.0.31:99999', '-raddr', '127.0.0.31:16030', join(root, 'bad')]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /HTTP address.*99999/);
  const r2 = await run(['-id', 'x', '-haddr', '127.0.0.31:15030', '-raddr', 'nocolon', join(root, 'bad')]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /raft address.*nocolon/);
  const r3 = await run(['-id', 'x', '-haddr', '127.0.0.31:15030', '-raddr', 'no-such-host.invalid:16030', join(root, 'bad')]);
  assert.equal(r3.code, 1);
  assert.equal(r3.stderr.trim(), 'raft address no-such-host.invalid:16030: the host name does not resolve');
  assert.equal(existsSync(join(root, 'bad', 'node.json')), false);
});

test('an invalid env value: one line, exit 1', async () => {
  const r = await run(['-id', 'x', ...addrs, join(root, 'env')], { ELECTION_TIMEOUT: 'soon' });
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), /^ELECTION_TIMEOUT must be a whole number/);
});

test('a port in use: one line, exit 1 (raft and HTTP)', async () => {
  const blocker = createServer();
  await new Promise<void>((res) => blocker.listen(16031, '127.0.0.31', res));
  try {
    const r = await run(['-id', 'x', '-haddr', '127.0.0.31:15031', '-raddr', '127.0.0.31:16031', join(root, 'busy1')]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('{')).length,
      1,
      r.stderr,
    );
    assert.match(r.stderr, /16031.*in use|in use.*16031/);
    // Nothing was written: fixing the flag and running again bootstraps normally.
    assert.equal(existsSync(join(root, 'busy1', 'node.json')), false);
  } finally {
    blocker.close();
  }
  const httpBlocker = createServer();
  await new Promise<void>((res) => httpBlocker.listen(15032, '127.0.0.31', res));
  try {
    const r = await run(['-id', 'x', '-haddr', '127.0.0.31:15032', '-raddr', '127.0.0.31:16032', join(root, 'busy2')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTTP address 127\.0\.0\.31:15032 is already in use/);
  } finally {
    httpBlocker.close();
  }
});

test('--help prints usage with the original flags, exit 0', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--id', '--haddr', '--raddr', '--join', '--radv', 'dataDir']) assert.ok(r.stdout.includes(flag), flag);
});
