/**
 * Core bugs the simulator found, pinned as direct scenarios so they stay fixed even if the seeds
 * that found them stop reaching them. Each names the seed and commit of its discovery.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapEntries, createRaft, MemoryStorage } from '../../src/raft/index.ts';
import type { Message } from '../../src/raft/types.ts';
import { Prng } from './prng.ts';

/** Run a lone core for `ticks` ticks, processing its Readies; returns every message it sent. */
function runAlone(storage: MemoryStorage, ticks: number): { sent: Message[]; role: string } {
  const core = createRaft({ id: 'n1', random: new Prng(1).asFunction() }, storage);
  const sent: Message[] = [];
  const drain = (): void => {
    for (let i = 0; i < 10 && core.hasReady(); i++) {
      const rd = core.ready();
      storage.save(rd.hardState, rd.entries);
      sent.push(...rd.messages);
      core.advance(rd);
    }
  };
  drain();
  for (let t = 0; t < ticks; t++) {
    core.tick();
    drain();
  }
  return { sent, role: core.status().role };
}

test('seed 5221 (3 nodes): a founder rejoining empty that replayed only bootstrap entry 1 does not elect itself', () => {
  // n1 lost its disk and rejoined; the leader sent it entry 1 (addVoter n1) and commit 1, then died.
  const storage = new MemoryStorage();
  const first = bootstrapEntries(['n1', 'n2', 'n3']).slice(0, 1);
  storage.save({ term: 4, vote: '', commit: 1 }, first);
  const { sent, role } = runAlone(storage, 200);
  assert.equal(role, 'follower', 'a partial founding membership {n1} must not make n1 a one-node cluster');
  assert.equal(sent.length, 0);
});

test('a genuine one-member bootstrap still elects itself (the guard is specific to partial bootstraps)', () => {
  const storage = new MemoryStorage();
  storage.save({ term: 1, vote: '', commit: 1 }, bootstrapEntries(['n1']));
  assert.equal(runAlone(storage, 200).role, 'leader');
});
