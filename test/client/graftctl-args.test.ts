/**
 * graftctl's command line: help, usage errors (exit 2), local input errors (exit 1) and
 * unreachable clusters (exit 1, one line) — in-process, plus one real-process check.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { graftctl, graftctlProcess, lines } from './helpers.ts';

/** Nothing listens here (127.0.0.51 and ports 19000+ are allocated to the client tests). */
const DEAD = '127.0.0.51:19090,127.0.0.51:19091';
const SUBCOMMANDS = ['get', 'set', 'del', 'status', 'members', 'join', 'remove', 'transfer-leader', 'backup', 'restore', 'user', 'token'];

test('--help documents every subcommand, the endpoints default and the exit codes', async () => {
  const r = await graftctl(['--help']);
  assert.equal(r.code, 0);
  for (const name of SUBCOMMANDS) assert.match(r.stdout, new RegExp(`\\n\\s+${name}\\b`), name);
  assert.match(r.stdout, /GRAFTD_ENDPOINTS/);
  assert.match(r.stdout, /127\.0\.0\.1:11000,127\.0\.0\.1:11001,127\.0\.0\.1:11002/);
  assert.match(r.stdout, /2 {2}usage error/);
  assert.match(r.stdout, /3 {2}key not found/);
});

test('every subcommand has --help with an example', async () => {
  for (const name of SUBCOMMANDS) {
    const r = await graftctl([name, '--help']);
    assert.equal(r.code, 0, name);
    assert.match(r.stdout, new RegExp(`Usage: graftctl ${name}`), name);
    assert.match(r.stdout, /Example:\n {2}\$ graftctl /, name);
    assert.equal(r.stderr, '', name);
  }
});

test('usage errors exit 2 with one line on stderr', async () => {
  const cases: string[][] = [
    [],
    ['frobnicate'],
    ['get'],
    ['get', 'a', 'b'],
    ['get', 'k', '--level', 'eventual'],
    ['--timeout', 'soon', 'get', 'k'],
    ['--timeout', '0', 'get', 'k'],
    ['--retries', '-1', 'get', 'k'],
    ['--bogus', 'get', 'k'],
    ['set'],
    ['set', 'only-key'],
    ['set', 'k', 'v', '--file', 'x.json'],
    ['del'],
    ['join', 'n9'],
    ['remove'],
    ['backup'],
    ['restore', 'f.bin'],
    ['--endpoints', 'no-port', 'get', 'k'],
    ['--endpoints', '127.0.0.1:99999', 'get', 'k'],
  ];
  for (const args of cases) {
    const r = await graftctl(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    if (args.length > 0) {
      assert.equal(lines(r.stderr).length, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^graftctl: /, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    } else {
      assert.match(r.stderr, /Usage: graftctl/);
    }
  }
});

test('set --file rejects unreadable or ill-shaped files with exit 1 before any network use', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'graftctl-args-'));
  try {
    const bad = {
      'array.json': '["a"]',
      'number.json': '{"a": 1}',
      'empty.json': '{}',
      'broken.json': '{"a": ',
    };
    for (const [name, text] of Object.entries(bad)) writeFileSync(join(dir, name), text);
    for (const name of [...Object.keys(bad), 'missing.json']) {
      const r = await graftctl(['--endpoints', DEAD, '--json', 'set', '--file', join(dir, name)]);
      assert.equal(r.code, 1, name);
      assert.equal(lines(r.stderr).length, 1, name);
      assert.doesNotMatch(r.stderr, /cannot reach/, `${name} must fail before any request`);
      const out = JSON.parse(r.stdout) as { code: string };
      assert.equal(out.code, 'GRAFTCTL_FILE', name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unreachable endpoints: exit 1, one readable line naming them; --json adds an error object', async () => {
  const r = await graftctl(['--endpoints', DEAD, '--retries', '1', 'get', 'k']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(lines(r.stderr).length, 1);
  assert.match(r.stderr, /^graftctl: cannot reach any of 127\.0\.0\.51:19090, 127\.0\.0\.51:19091 .*connection refused/);

  const j = await graftctl(['--endpoints', DEAD, '--retries', '0', '--json', 'set', 'k', 'v']);
  assert.equal(j.code, 1);
  assert.deepEqual(Object.keys(JSON.parse(j.stdout) as object).sort(), ['code', 'error', 'exitCode']);
  assert.equal((JSON.parse(j.stdout) as { code: string }).code, 'GRAFTD_CLIENT_UNREACHABLE');
});

test('GRAFTD_ENDPOINTS is the default, --endpoints overrides it', async () => {
  const fromEnv = await graftctl(['--retries', '0', 'status'], { GRAFTD_ENDPOINTS: '127.0.0.51:19092' });
  assert.equal(fromEnv.code, 1);
  assert.match(fromEnv.stderr, /127\.0\.0\.51:19092/);
  const flag = await graftctl(['--endpoints', '127.0.0.51:19093', '--retries', '0', 'status'], { GRAFTD_ENDPOINTS: '127.0.0.51:19092' });
  assert.match(flag.stderr, /127\.0\.0\.51:19093/);
  assert.doesNotMatch(flag.stderr, /19092/);
});

test('bin/graftctl as a real process: help exits 0, usage 2, unreachable 1 with one line', async () => {
  const help = await graftctlProcess(['get', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--level <level>/);
  const usage = await graftctlProcess(['get']);
  assert.equal(usage.code, 2);
  assert.deepEqual(lines(usage.stderr), ["graftctl: get needs KEY (or --prefix PREFIX); see 'graftctl get --help'"]);
  const down = await graftctlProcess(['--retries', '0', 'del', 'k'], { GRAFTD_ENDPOINTS: DEAD });
  assert.equal(down.code, 1);
  assert.equal(lines(down.stderr).length, 1);
  assert.match(down.stderr, /cannot reach/);
});
