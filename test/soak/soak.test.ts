/**
 * `npm run soak` end to end, short: a 2-minute run completes with 0 errors, one table row per
 * minute and a well-formed last line; Ctrl-C stops every node and removes the temp dirs.
 *
 * Why no performance assertions: the drift, disk and p99 goals are for long runs on a quiet
 * machine (bench/README.md); a 2-minute run on a loaded CI box proves the harness and that the
 * cluster serves the mixed load and the leader transfers without a single failure. Exit code 2
 * (only a performance goal missed) is therefore accepted here; 1 (errors) is not.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { FINAL_LINE_RE } from '../../bench/lib/soak-report.ts';

const SCRIPT = resolve(import.meta.dirname, '../../bench/soak.ts');
const children = new Set<ChildProcess>();

/** PIDs of the graftd nodes of the soak on `portBase` (their command lines name their raft address). */
function nodePids(portBase: number): number[] {
  const raftAddrs = [71, 72, 73].map((host, i) => `127.0.0.${host}:${portBase + 101 + i}`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (raftAddrs.some((a) => cmdline.includes(a))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

after(async () => {
  // Normally each soak has stopped itself; after a failure, interrupt it (it stops its nodes).
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGINT');
    await Promise.race([new Promise((res) => child.once('exit', res)), sleep(15_000, undefined, { ref: false })]);
    child.kill('SIGKILL');
  }
});

interface Run {
  readonly proc: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

function soak(args: readonly string[]): Run {
  const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d) => {
    out += String(d);
  });
  proc.stderr?.on('data', (d) => {
    err += String(d);
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  return { proc, stdout: () => out, stderr: () => err, exited };
}

async function waitFor(run: Run, what: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!what.test(run.stdout())) {
    if (Date.now() > deadline || run.proc.exitCode !== null)
      throw new Error(`soak did not print ${what}:\n${run.stdout()}\n--- stderr\n${run.stderr()}`);
    await sleep(200);
  }
}

test('soak: Ctrl-C stops every node and removes the temp dirs', async () => {
  const run = soak(['--minutes', '5', '--port-base', '18760']);
  await waitFor(run, /^\| min \|/m, 120_000);
  const root = /data dirs and logs under (\S+)/.exec(run.stderr())?.[1];
  assert.ok(root !== undefined && existsSync(root), `temp root not announced:\n${run.stderr()}`);
  assert.equal(nodePids(18760).length, 3, 'three nodes run');
  run.proc.kill('SIGINT');
  assert.equal(await run.exited, 130, run.stderr());
  assert.deepEqual(nodePids(18760), [], 'no node left running');
  assert.equal(existsSync(root), false, `${root} removed`);
});

test('soak: 2 minutes of mixed load with leader transfers, 0 errors, well-formed last line', async () => {
  const run = soak(['--minutes', '2', '--port-base', '18750']);
  const code = await Promise.race([run.exited, sleep(480_000, undefined, { ref: false }).then(() => 'timeout' as const)]);
  const out = run.stdout();
  const detail = `exit ${code}\n${out}\n--- stderr\n${run.stderr().slice(-3000)}`;
  assert.ok(code === 0 || code === 2, `exit 0 (goals met) or 2 (a performance goal missed) expected: ${detail}`);
  const lines = out.trimEnd().split('\n');
  const m = FINAL_LINE_RE.exec(lines.at(-1)!);
  assert.ok(m !== null, `last line not well-formed: ${detail}`);
  assert.equal(m[1], '2', 'two minutes');
  assert.equal(m[6], '0', `0 errors: ${detail}`);
  // One table row per minute, each with 0 errors and some completed requests.
  const rows = lines.filter((l) => /^\| \d+ \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
  assert.equal(rows.length, 2, detail);
  for (const r of rows) {
    assert.ok(Number(r[2]) > 0, `requests in minute ${r[1]}`);
    assert.equal(r[3], '0', `errors in minute ${r[1]}`);
  }
  assert.match(out, /^[1-9]\d* leader transfers;/m, 'at least one leader transfer ran');
  assert.deepEqual(nodePids(18750), [], 'no node left running');
});
