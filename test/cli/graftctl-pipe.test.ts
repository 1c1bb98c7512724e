/**
 * A reader that stops early (`graftctl --help | head -1`, `graftctl watch | head -5`) closes the
 * pipe under graftctl's stdout. graftctl must then end quietly with status 0, as Unix tools do,
 * not crash with an unhandled EPIPE stack trace (it did before this test).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const GRAFTCTL = new URL('../../bin/graftctl', import.meta.url).pathname;

test('graftctl writing into a pipe whose reader has gone ends with status 0 and no stack trace', () => {
  // The right-hand side closes its stdin at once and stays alive, so the pipe has no reader when
  // graftctl writes: the write fails with EPIPE every time (no race with the reader's exit).
  const script = `set -o pipefail; "${process.execPath}" "${GRAFTCTL}" --help | (exec 0<&-; sleep 2)`;
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.stderr, '', 'nothing on stderr');
  assert.equal(result.status, 0);
});
