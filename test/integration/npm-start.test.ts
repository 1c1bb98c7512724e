/**
 * `npm start` (scripts/start-cluster.ts): three nodes on 127.0.0.1:11000-11002 come up with a
 * leader and print the endpoints; Ctrl-C (SIGINT) stops all three cleanly; a second start
 * resumes the same data. Data goes to a temp dir (GRAFTD_DATA) instead of ./data.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/start-cluster.ts');
const data = mkdtempSync(join(tmpdir(), 'graftd-npm-start-'));
let child: ChildProcess | undefined;

/** PIDs of graftd processes started by the script under test (their command line names our temp data dir). */
function ourGraftdPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(data)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

after(async () => {
  // Normally the script has stopped everything; after a failure, stop it (and what it started) here.
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT');
    await Promise.race([new Promise((res) => child?.once('exit', res)), sleep(20_000)]);
    child.kill('SIGKILL');
  }
  for (const pid of ourGraftdPids()) process.kill(pid, 'SIGKILL');
  rmSync(data, { recursive: true, force: true });
});

async function startCluster(
  args: readonly string[] = [],
  dataDir = data,
): Promise<{ proc: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    env: { ...process.env, GRAFTD_DATA: dataDir, HEARTBEAT_TIMEOUT: '50', ELECTION_TIMEOUT: '500' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += String(d);
  });
  proc.stderr?.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('cluster is up')) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`npm start did not come up: ${out}`);
    await sleep(100);
  }
  return { proc, output: () => out, exited };
}

test('npm start: a 3-node cluster with endpoints printed; Ctrl-C stops it cleanly; a restart keeps the data', async () => {
  const first = await startCluster();
  for (const port of [11000, 11001, 11002]) assert.ok(first.output().includes(`http://127.0.0.1:${port}`));
  assert.match(first.output(), /curl -XPOST http:\/\/127\.0\.0\.1:11001\/key/);
  const w = await fetch('http://127.0.0.1:11001/key', { method: 'POST', body: JSON.stringify({ user: 'kj' }) });
  assert.equal(w.status, 200, await w.text());
  first.proc.kill('SIGINT');
  assert.equal(await first.exited, 0);
  for (const id of ['node0', 'node1', 'node2']) assert.match(first.output(), new RegExp(`${id} stopped\n`));

  const second = await startCluster();
  const r = await fetch('http://127.0.0.1:11002/key/user');
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { user: 'kj' });
  second.proc.kill('SIGINT');
  assert.equal(await second.exited, 0);
});

test('npm start -- --secure: TLS, secret and an admin user; the printed commands work; no credentials → 401', async () => {
  const dir = join(data, 'secure-run');
  const run = await startCluster(['--secure'], dir);
  const out = run.output();
  assert.match(out, /SECURE mode/);
  for (const port of [11000, 11001, 11002]) assert.ok(out.includes(`https://127.0.0.1:${port}`));
  const password = /Admin user: admin {3}password: (\S+)/.exec(out)?.[1] ?? '';
  assert.notEqual(password, '');
  assert.equal(readFileSync(join(dir, 'secure', 'admin-password'), 'utf8').trim(), password);
  const { Agent, request } = await import('undici');
  const agent = new Agent({ connect: { ca: readFileSync(join(dir, 'secure', 'test-ca.crt')) } });
  try {
    const auth = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };
    const w = await request('https://127.0.0.1:11001/key', { method: 'POST', body: '{"user":"kj"}', headers: auth, dispatcher: agent });
    assert.equal(w.statusCode, 200, await w.body.text());
    const r = await request('https://127.0.0.1:11002/key/user', { headers: auth, dispatcher: agent });
    assert.deepEqual(JSON.parse(await r.body.text()), { user: 'kj' });
    const anon = await request('https://127.0.0.1:11000/key/user', { dispatcher: agent });
    assert.equal(anon.statusCode, 401);
    await anon.body.text();
  } finally {
    await agent.close();
  }
  run.proc.kill('SIGINT');
  assert.equal(await run.exited, 0);
});
