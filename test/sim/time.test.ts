/**
 * The simulator's time model (time.ts): drifting clocks stay within the configured bound, ticks
 * follow the node's own clock, a late timer never fires early nor catches up, and a stall leaves
 * the clock running and the timer with exactly one late tick to fire.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from './prng.ts';
import { NO_TIME_FAULTS, NodeTime, drawRates, drawTimeProfile } from './time.ts';

const TICK = 10;

/** Run `node`'s timer from virtual ms `from` to `to`; returns the virtual times its ticks fired at. */
function runTimer(node: NodeTime, from: number, to: number, rng = new Prng(1), lateRate = 0, lateMaxMs = 0): number[] {
  const fired: number[] = [];
  for (let now = from; now <= to; now++) {
    if (node.stalled) continue;
    const f = node.poll(now, rng, lateRate, lateMaxMs);
    if (f === 'no') continue;
    node.fired(now, f === 'late');
    fired.push(now);
  }
  return fired;
}

test('node clock rates differ pairwise by less than the configured maxClockDrift, extremes included', () => {
  const rng = new Prng(7);
  for (let i = 0; i < 500; i++) {
    const t = drawTimeProfile(rng, { clockDrift: true, stalls: true, lateTimers: true });
    const rates = drawRates(rng, 5, t);
    const spread = Math.max(...rates) - Math.min(...rates);
    assert.ok(spread < t.maxClockDrift, `rates ${rates.join(' ')} spread ${spread} ≥ maxClockDrift ${t.maxClockDrift}`);
  }
  // With the worst-case draw the spread comes close to the bound.
  const worst = drawRates(new Prng(3), 20, { ...NO_TIME_FAULTS, maxClockDrift: 0.2, driftSpread: 0.999, driftExtremes: true });
  assert.ok(Math.max(...worst) - Math.min(...worst) > 0.19);
});

test('ticks follow the node clock: a fast clock ticks more often in virtual time, a slow one less', () => {
  const fast = runTimer(new NodeTime(1.05, 5000, TICK, 0), 0, 9999);
  const slow = runTimer(new NodeTime(0.95, 5000, TICK, 0), 0, 9999);
  const exact = runTimer(new NodeTime(1, 5000, TICK, 0), 0, 9999);
  assert.equal(exact.length, 1000);
  assert.ok(Math.abs(fast.length - 1050) <= 1, `fast clock: ${fast.length} ticks`);
  assert.ok(Math.abs(slow.length - 950) <= 1, `slow clock: ${slow.length} ticks`);
  // Never earlier than due on the node's clock.
  const t = new NodeTime(0.95, 0, TICK, 0);
  for (const at of runTimer(t, 0, 999)) assert.ok(t.read(at) >= 0);
});

test('a late timer fires later than scheduled, never early, and does not catch up on missed ticks', () => {
  const node = new NodeTime(1, 0, TICK, 0);
  const fired = runTimer(node, 0, 9999, new Prng(5), 0.5, 30);
  for (let i = 1; i < fired.length; i++) {
    const gap = (fired[i] as number) - (fired[i - 1] as number);
    assert.ok(gap >= TICK, `ticks ${gap} ms apart: a timer fired early or caught up`);
  }
  assert.ok(fired.length < 900, `${fired.length} ticks in 10 s: lateness was not applied`);
});

test('a stall: the clock keeps running, no tick fires, and on resume exactly one tick is due', () => {
  const node = new NodeTime(1.02, 123, TICK, 3);
  const before = runTimer(node, 0, 99);
  node.stalledUntil = 700;
  const during = runTimer(node, 100, 699);
  assert.equal(during.length, 0);
  assert.ok(node.read(700) - node.read(100) > 600, 'the clock runs on during a stall');
  node.stalledUntil = -1;
  assert.equal(node.due(700), true);
  node.fired(700, true); // the one late tick (the cluster fires it among the queued events)
  assert.equal(node.due(700), false, 'a timer does not catch up: one tick, not sixty');
  const after = runTimer(node, 701, 800);
  assert.ok(before.length >= 9);
  assert.ok((after[0] as number) >= 709 && (after[0] as number) <= 710, `next tick one interval after the resume, at ${after[0]}`);
});
