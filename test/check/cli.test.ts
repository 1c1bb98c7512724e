import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { formatHistory } from '../../src/check/history.ts';
import { events } from './helpers.ts';

const CLI = resolve(import.meta.dirname, '../../src/check/cli.ts');

test('the offline checker prints per-key verdicts and exits 0 / 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'graftd-check-'));
  try {
    const good = join(dir, 'good.jsonl');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(
      good,
      formatHistory(
        events([
          { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
          { p: 0, op: 'read', v: 'a', call: 2, ret: 3 },
        ]),
      ),
    );
    writeFileSync(
      bad,
      formatHistory(
        events([
          { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
          { p: 0, op: 'write', v: 'b', call: 2, ret: 3 },
          { p: 1, op: 'read', v: 'a', call: 4, ret: 5 },
        ]),
      ),
    );
    const run = (file: string) => spawnSync(process.execPath, ['--import', 'tsx', CLI, file], { encoding: 'utf8' });
    const ok = run(good);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^pass +k /m);
    assert.match(ok.stdout, /check: 0 violations, 0 lost acknowledged writes, 0 unknown/);
    const fail = run(bad);
    assert.equal(fail.status, 1, fail.stderr);
    assert.match(fail.stdout, /^fail +k .*stale read/m);
    assert.match(fail.stdout, /minimal failing sub-history/);
    assert.match(fail.stdout, /check: 1 violations/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
