/**
 * The benchmark's coordination cases (bench/lib/targets.ts: cas, txn3) against the real HTTP
 * layer over the fake node's real store, on 127.0.0.49:18491: every counted CAS success is a
 * real compare-and-set (successes = the keys' versions gained, none lost under contention), a
 * refused one is a conflict and not an error, and each txn3 is one revision writing two keys.
 * Cheap enough for CI (~2 s).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { keyName, preload, runCase } from '../../bench/lib/load.ts';
import { type Target, graftdTarget } from '../../bench/lib/targets.ts';
import type { FakeNode } from './fake-node.ts';
import { makeServer } from './helpers.ts';

const host = '127.0.0.49';
const port = 18491;
let app: FastifyInstance;
let node: FakeNode;
let target: Target;

before(async () => {
  ({ app, node } = await makeServer());
  await app.listen({ host, port });
  target = graftdTarget([`http://${host}:${port}`], 8);
});

after(async () => {
  await target.close();
  await app.close();
});

/** Sum over keys 0..n-1 of (version − 1): the writes each key received after its preload. */
function versionsGained(n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (node.store.keyValue(keyName(i))?.version ?? 1) - 1;
  return sum;
}

test('cas: one client never conflicts; every success is one version more', async () => {
  assert.equal(await preload(target, 20, 'v0', 4), 0);
  const r = await runCase(target, { kind: 'cas', concurrency: 1, seconds: 0.4, warmupSeconds: 0, keys: 20, value: 'c1' });
  assert.equal(r.errors, 0, [...r.errorKinds].join());
  assert.equal(r.conflicts, 0);
  assert.ok(r.ok > 0, 'some CAS succeeded');
  assert.equal(versionsGained(20), r.ok);
});

test('cas: contention on two keys is refused (412), never lost, never an error', async () => {
  const base = versionsGained(2);
  const r = await runCase(target, { kind: 'cas', concurrency: 8, seconds: 0.4, warmupSeconds: 0, keys: 2, value: 'c8' });
  assert.equal(r.errors, 0, [...r.errorKinds].join());
  assert.ok(r.conflicts > 0, 'eight clients on two keys conflict');
  assert.ok(r.ok > 0);
  assert.equal(versionsGained(2) - base, r.ok, 'successes = versions gained: no CAS counted that did not write, none lost');
});

test('txn3: each is one revision, writing both keys', async () => {
  const revision = node.store.revision;
  const r = await runCase(target, { kind: 'txn3', concurrency: 4, seconds: 0.4, warmupSeconds: 0, keys: 20, value: 't3' });
  assert.equal(r.errors, 0, [...r.errorKinds].join());
  assert.ok(r.ok > 0);
  assert.equal(node.store.revision - revision, r.ok);
  const written = Array.from({ length: 20 }, (_, i) => node.store.get(keyName(i))).filter((v) => v === 't3').length;
  assert.ok(written >= 2, `${written} keys hold the txn's value`);
});
