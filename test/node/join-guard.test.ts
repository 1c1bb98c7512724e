// A node that joined with an empty data directory never campaigns before it has caught up.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { clearJoiningMarker, hasJoiningMarker, writeJoiningMarker } from '../../src/node/data-dir.ts';
import { JoinGuard } from '../../src/node/join-guard.ts';
import { makeMessage } from '../../src/raft/message.ts';

const root = mkdtempSync(join(tmpdir(), 'graftd-join-guard-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('an inactive guard never holds the timer', () => {
  const guard = new JoinGuard(false, () => assert.fail('no catch-up callback for an inactive guard'));
  assert.equal(guard.mayTick(0, false), true);
});

test('a joining node waits for a leader, then for the leader commit index it last heard, then may tick once and for all', () => {
  let caughtUp = 0;
  const guard = new JoinGuard(true, () => caughtUp++);
  // Replaying history alone (e.g. the founder's bootstrap entry saying it is the only voter) is not enough.
  assert.equal(guard.mayTick(1, false), false);
  // Heartbeats and votes do not carry the leader's full commit index: they do not arm the guard.
  guard.observe(makeMessage('heartbeat', 'n2', 'n1', 5, { commit: 0 }));
  guard.observe(makeMessage('vote', 'n3', 'n1', 6, { index: 3, logTerm: 1 }));
  assert.equal(guard.mayTick(1, false), false);
  guard.observe(makeMessage('app', 'n2', 'n1', 5, { commit: 40, index: 0 }));
  guard.observe(makeMessage('app', 'n2', 'n1', 5, { commit: 30, index: 0 })); // reordered: the barrier never goes down
  assert.equal(guard.barrier, 40);
  assert.equal(guard.mayTick(39, false), false);
  assert.equal(caughtUp, 0);
  assert.equal(guard.mayTick(40, false), true);
  assert.equal(caughtUp, 1);
  assert.equal(guard.active, false);
  assert.equal(guard.mayTick(0, false), true);
  assert.equal(caughtUp, 1);
});

test('a node made leader by a leadership transfer always ticks (it sends heartbeats)', () => {
  let caughtUp = 0;
  const guard = new JoinGuard(true, () => caughtUp++);
  assert.equal(guard.mayTick(0, true), true);
  assert.equal(caughtUp, 1);
});

test('the JOINING marker persists until cleared', () => {
  const dir = join(root, 'n1');
  assert.equal(hasJoiningMarker(dir), false);
  writeJoiningMarker(dir);
  assert.equal(hasJoiningMarker(dir), true);
  clearJoiningMarker(dir);
  assert.equal(hasJoiningMarker(dir), false);
});
