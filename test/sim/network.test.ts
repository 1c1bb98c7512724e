/** The network model and the PRNG: determinism, partitions, duplicates, bounded delays. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../src/raft/types.ts';
import { SimNetwork } from './network.ts';
import { Prng } from './prng.ts';

const msg = (from: string, to: string, index: number): Message => ({
  type: 'app',
  from,
  to,
  term: 1,
  logTerm: 0,
  index,
  entries: [],
  commit: 0,
  reject: false,
  rejectHint: 0,
  context: '',
  snapshot: null,
});

function drain(net: SimNetwork, untilMs: number): { at: number; m: Message }[] {
  const out: { at: number; m: Message }[] = [];
  for (let now = 0; now <= untilMs; now++) for (let m = net.poll(now); m !== undefined; m = net.poll(now)) out.push({ at: now, m });
  return out;
}

test('prng: the same seed gives the same sequence, different seeds differ, values stay in range', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const sa = Array.from({ length: 100 }, () => a.next());
  assert.deepEqual(
    sa,
    Array.from({ length: 100 }, () => b.next()),
  );
  assert.notDeepEqual(
    sa,
    Array.from({ length: 100 }, () => c.next()),
  );
  assert.ok(sa.every((x) => x >= 0 && x < 1));
  const r = new Prng(7);
  for (let i = 0; i < 1000; i++) {
    const v = r.range(3, 5);
    assert.ok(v >= 3 && v <= 5 && Number.isInteger(v));
  }
});

test('network: delays within bounds, reordering happens, replays exactly from the seed', () => {
  const run = (seed: number): string => {
    const net = new SimNetwork(['a', 'b'], new Prng(seed), () => {});
    net.config = { dropRate: 0, dupRate: 0, minDelayMs: 1, maxDelayMs: 20, slowRate: 0, slowMaxDelayMs: 20 };
    for (let i = 0; i < 50; i++) net.send(msg('a', 'b', i), 0);
    const got = drain(net, 30);
    assert.equal(got.length, 50);
    assert.ok(got.every((g) => g.at >= 1 && g.at <= 20));
    return got.map((g) => g.m.index).join(',');
  };
  const order = run(1);
  assert.equal(order, run(1));
  assert.notEqual(order, Array.from({ length: 50 }, (_, i) => i).join(','), 'independent delays reorder messages');
});

test('network: partitions drop in both directions, one-way cuts in one, and heal', () => {
  const dropped: Message[] = [];
  const net = new SimNetwork(['a', 'b', 'c'], new Prng(3), (m) => dropped.push(m));
  net.partition(new Set(['a']));
  net.send(msg('a', 'b', 1), 0);
  net.send(msg('c', 'a', 2), 0);
  net.send(msg('b', 'c', 3), 0);
  assert.deepEqual(
    drain(net, 20).map((g) => g.m.index),
    [3],
  );
  assert.equal(dropped.length, 2);
  net.heal();
  net.setLink('a', 'b', true);
  net.send(msg('a', 'b', 4), 0);
  net.send(msg('b', 'a', 5), 0);
  assert.deepEqual(
    drain(net, 20).map((g) => g.m.index),
    [5],
  );
  assert.equal(net.describeCuts(), 'a>b');
  // A message in flight when the link is cut is lost too.
  net.heal();
  net.send(msg('a', 'b', 6), 0);
  net.setLink('a', 'b', true);
  assert.equal(drain(net, 20).length, 0);
});

test('network: duplicates deliver the same message twice; drops lose it', () => {
  const net = new SimNetwork(['a', 'b'], new Prng(5), () => {});
  net.config = { dropRate: 0, dupRate: 1, minDelayMs: 1, maxDelayMs: 5, slowRate: 0, slowMaxDelayMs: 5 };
  net.send(msg('a', 'b', 1), 0);
  assert.equal(drain(net, 10).length, 2);
  net.config = { ...net.config, dupRate: 0, dropRate: 1 };
  net.send(msg('a', 'b', 2), 0);
  assert.equal(drain(net, 10).length, 0);
  assert.equal(net.stats.dropped, 1);
  assert.equal(net.stats.duplicated, 1);
});

test('network: purge loses every message from or to a node, keeps the rest in order', () => {
  const dropped: Message[] = [];
  const net = new SimNetwork(['a', 'b', 'c'], new Prng(9), (m) => dropped.push(m));
  net.send(msg('a', 'b', 1), 0);
  net.send(msg('b', 'c', 2), 0);
  net.send(msg('c', 'a', 3), 0);
  net.send(msg('b', 'c', 4), 0);
  net.purge('a');
  assert.deepEqual(dropped.map((m) => m.index).sort(), [1, 3]);
  assert.deepEqual(
    drain(net, 20)
      .map((g) => g.m.index)
      .sort(),
    [2, 4],
  );
});
