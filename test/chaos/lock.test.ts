import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireChaosLock } from './lock.ts';

test('the chaos lock serializes runs and takes over a lock whose owner died', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'graftd-lock-'));
  const file = join(dir, 'lock');
  try {
    const release = await acquireChaosLock(1000, () => {}, file);
    assert.ok(existsSync(file));
    // A second taker in this process already owns it (same pid); simulate another owner instead.
    release();
    assert.ok(!existsSync(file));
    writeFileSync(file, String(process.ppid)); // a live process that is not us
    const lines: string[] = [];
    await assert.rejects(
      acquireChaosLock(600, (l) => lines.push(l), file),
      /another chaos run \(pid \d+\) held/,
    );
    assert.match(lines[0]!, /waiting for another chaos run/);
    writeFileSync(file, '999999999'); // no such process
    const again = await acquireChaosLock(1000, () => {}, file);
    again();
    again();
    assert.ok(!existsSync(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
