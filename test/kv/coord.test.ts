/**
 * The coordination data model in the state machine (issue 13): revision arithmetic, key metadata,
 * compares, transaction atomicity, leases, range reads, and snapshots that carry all of it —
 * including a snapshot and a backup written by release 0.1.0 (format v1, checked-in files).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import {
  KvStore,
  encodeCommand,
  encodeLeaseExpire,
  encodeLeaseGrant,
  encodeLeaseKeepAlive,
  encodeLeaseRevoke,
  encodeTxn,
  restoreSnapshot,
  writeSnapshot,
} from '../../src/kv/index.ts';
import { KvStateMachine } from '../../src/kv/state-machine.ts';
import type { TxnOpResult, TxnRequest } from '../../src/kv/types.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures');

let index = 0;
function apply(kv: KvStore, cmd: Uint8Array) {
  return kv.apply(cmd, ++index);
}
const set = (pairs: Record<string, string>) => encodeCommand({ op: 'set', pairs });
const del = (...keys: string[]) => encodeCommand({ op: 'del', keys });
const txn = (t: Partial<TxnRequest>) => encodeTxn({ compare: [], success: [], failure: [], ...t });

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
async function roundTrip(kv: KvStore): Promise<KvStore> {
  const chunks: Uint8Array[] = [];
  for await (const c of writeSnapshot(kv, { chunkBytes: 64 })) chunks.push(c);
  return restoreSnapshot(once(Buffer.concat(chunks)));
}

test('one request = one revision; create/mod revision and version per key; a delete ends a life', () => {
  const kv = new KvStore();
  assert.equal(kv.revision, 0);
  assert.deepEqual(apply(kv, set({ a: '1', b: '1' })), { revision: 1 });
  assert.deepEqual(kv.keyValue('a'), { key: 'a', value: '1', createRevision: 1, modRevision: 1, version: 1, lease: '' });
  apply(kv, set({ a: '2' }));
  assert.deepEqual(kv.keyValue('a'), { key: 'a', value: '2', createRevision: 1, modRevision: 2, version: 2, lease: '' });
  assert.equal(kv.keyValue('b')!.modRevision, 1);
  // Deleting nothing changes nothing (no revision).
  assert.deepEqual(apply(kv, del('zzz')), { revision: 2, deleted: 0 });
  assert.deepEqual(apply(kv, del('a', 'b', 'nope')), { revision: 3, deleted: 2 });
  apply(kv, set({ a: 'again' }));
  assert.deepEqual(kv.keyValue('a'), { key: 'a', value: 'again', createRevision: 4, modRevision: 4, version: 1, lease: '' });
  // The no-op entry.
  assert.deepEqual(kv.apply(new Uint8Array(0), 99), { revision: 4 });
});

test('compares: every target and op, absent keys, value compares on an absent key always fail', () => {
  const kv = new KvStore();
  apply(kv, set({ k: 'm' }));
  apply(kv, set({ k: 'm' }));
  const check = (compare: TxnRequest['compare'][number]) => apply(kv, txn({ compare: [compare] })).succeeded;
  assert.equal(check({ key: 'k', target: 'value', op: '=', value: 'm' }), true);
  assert.equal(check({ key: 'k', target: 'value', op: '<', value: 'n' }), true);
  assert.equal(check({ key: 'k', target: 'value', op: '>', value: 'n' }), false);
  assert.equal(check({ key: 'k', target: 'value', op: '!=', value: 'm' }), false);
  assert.equal(check({ key: 'k', target: 'version', op: '=', value: 2 }), true);
  assert.equal(check({ key: 'k', target: 'modRevision', op: '=', value: 2 }), true);
  assert.equal(check({ key: 'k', target: 'createRevision', op: '<', value: 2 }), true);
  assert.equal(check({ key: 'k', target: 'exists', op: '=', value: true }), true);
  assert.equal(check({ key: 'k', target: 'lease', op: '=', value: '' }), true);
  assert.equal(check({ key: 'x', target: 'exists', op: '!=', value: true }), true);
  assert.equal(check({ key: 'x', target: 'version', op: '=', value: 0 }), true);
  assert.equal(check({ key: 'x', target: 'modRevision', op: '<', value: 1 }), true);
  assert.equal(check({ key: 'x', target: 'value', op: '!=', value: 'm' }), false);
  assert.equal(check({ key: 'x', target: 'value', op: '=', value: '' }), false);
  // Reads-only txns write nothing: the revision stays.
  assert.equal(kv.revision, 2);
});

test('txn: one revision for all its writes, later ops see earlier ones, the failure branch runs when a compare fails', () => {
  const kv = new KvStore();
  apply(kv, set({ 'p/1': 'a', 'p/2': 'b', q: 'c' }));
  const r = apply(
    kv,
    txn({
      compare: [{ key: 'q', target: 'value', op: '=', value: 'c' }],
      success: [{ put: { key: 'p/3', value: 'x' } }, { delete: { key: 'q' } }, { get: { prefix: 'p/' } }, { delete: { prefix: 'p/' } }],
      failure: [{ put: { key: 'never', value: '!' } }],
    }),
  );
  assert.equal(r.succeeded, true);
  assert.equal(r.revision, 2);
  assert.deepEqual(r.results![0], { op: 'put', key: 'p/3' });
  assert.deepEqual(r.results![1], { op: 'delete', deleted: 1 });
  const got = r.results![2] as Extract<TxnOpResult, { op: 'get' }>;
  assert.deepEqual(
    got.kvs.map((kv) => [kv.key, kv.modRevision]),
    [
      ['p/1', 1],
      ['p/2', 1],
      ['p/3', 2],
    ],
  );
  assert.deepEqual(r.results![3], { op: 'delete', deleted: 3 });
  assert.equal(kv.size, 0);
  const f = apply(
    kv,
    txn({
      compare: [{ key: 'q', target: 'exists', op: '=', value: true }],
      success: [],
      failure: [{ put: { key: 'z', value: '1' } }, { get: { key: 'z' } }],
    }),
  );
  assert.equal(f.succeeded, false);
  assert.equal(f.revision, 3);
  assert.equal(kv.get('z'), '1');
});

test('txn atomicity: a put naming a missing lease refuses the whole branch and changes nothing', () => {
  const kv = new KvStore();
  apply(kv, set({ a: '1' }));
  const r = apply(kv, txn({ success: [{ delete: { key: 'a' } }, { put: { key: 'b', value: '2', lease: '7' } }] }));
  assert.equal(r.error?.code, 'GRAFTD_LEASE_NOT_FOUND');
  assert.equal(kv.get('a'), '1');
  assert.equal(kv.get('b'), undefined);
  assert.equal(kv.revision, 1);
});

test('leases: grant, attach, move, detach, keepalive renews, revoke deletes its keys in one revision', () => {
  const kv = new KvStore();
  const g1 = apply(kv, encodeLeaseGrant(10));
  const g2 = apply(kv, encodeLeaseGrant(20));
  assert.deepEqual(g1.lease, { id: '1', ttl: 10 });
  assert.deepEqual(g2.lease, { id: '2', ttl: 20 });
  assert.equal(kv.revision, 0, 'a grant changes no key');
  apply(
    kv,
    txn({
      success: [
        { put: { key: 'a', value: '1', lease: '1' } },
        { put: { key: 'b', value: '1', lease: '1' } },
        { put: { key: 'c', value: '1', lease: '2' } },
      ],
    }),
  );
  assert.deepEqual([...kv.leases.get(1)!.keys].sort(), ['a', 'b']);
  apply(kv, txn({ success: [{ put: { key: 'b', value: '2', lease: '2' } }] }));
  assert.deepEqual([...kv.leases.get(1)!.keys], ['a']);
  assert.deepEqual([...kv.leases.get(2)!.keys].sort(), ['b', 'c']);
  apply(kv, set({ c: 'plain' }));
  assert.equal(kv.keyValue('c')!.lease, '', 'a plain put detaches the key');
  assert.deepEqual([...kv.leases.get(2)!.keys], ['b']);
  const before = kv.leases.get(2)!.renewedAt;
  const ka = apply(kv, encodeLeaseKeepAlive(2));
  assert.deepEqual(ka.lease, { id: '2', ttl: 20 });
  assert.ok(kv.leases.get(2)!.renewedAt > before);
  const rev = kv.revision;
  assert.deepEqual(apply(kv, encodeLeaseRevoke(2)), { revision: rev + 1, deleted: 1 });
  assert.equal(kv.get('b'), undefined);
  assert.equal(kv.leases.has(2), false);
  assert.equal(apply(kv, encodeLeaseKeepAlive(2)).error?.code, 'GRAFTD_LEASE_NOT_FOUND');
  assert.equal(apply(kv, encodeLeaseRevoke(2)).error?.code, 'GRAFTD_LEASE_NOT_FOUND');
  // A revoke of a lease with no keys changes no revision.
  const g3 = apply(kv, encodeLeaseGrant(5));
  assert.deepEqual(apply(kv, encodeLeaseRevoke(3)), { revision: kv.revision, deleted: 0 });
  assert.equal(g3.lease?.id, '3', 'ids are never reused');
});

test('lease expiry applies only to the renewal the leader saw: a keepalive in between wins', () => {
  const kv = new KvStore();
  apply(kv, encodeLeaseGrant(10));
  apply(kv, txn({ success: [{ put: { key: 'svc/a', value: 'up', lease: '1' } }] }));
  const seen = kv.leases.get(1)!.renewedAt;
  apply(kv, encodeLeaseKeepAlive(1));
  assert.deepEqual(apply(kv, encodeLeaseExpire(1, seen)), { revision: 1, deleted: 0, expired: false });
  assert.equal(kv.get('svc/a'), 'up');
  const now = kv.leases.get(1)!.renewedAt;
  assert.deepEqual(apply(kv, encodeLeaseExpire(1, now)), { revision: 2, deleted: 1, expired: true });
  assert.equal(kv.size, 0);
  assert.deepEqual(apply(kv, encodeLeaseExpire(1, now)), { revision: 2, deleted: 0, expired: false });
});

test('range reads: prefix, start/end, after paging, limit, keysOnly, sorted, one revision', () => {
  const kv = new KvStore();
  const pairs: Record<string, string> = {};
  for (let i = 0; i < 25; i++) pairs[`k/${String(i).padStart(2, '0')}`] = `v${i}`;
  pairs['k0'] = 'outside';
  pairs['j'] = 'before';
  apply(kv, set(pairs));
  let page = kv.range({ prefix: 'k/', limit: 10 });
  assert.equal(page.kvs.length, 10);
  assert.equal(page.more, true);
  assert.equal(page.next, 'k/09');
  const all = [...page.kvs];
  while (page.more) {
    page = kv.range({ prefix: 'k/', limit: 10, after: page.next! });
    all.push(...page.kvs);
  }
  assert.equal(all.length, 25);
  assert.equal(page.next, null);
  assert.deepEqual(
    all.map((kv) => kv.key),
    Object.keys(pairs)
      .filter((k) => k.startsWith('k/'))
      .sort(),
  );
  const exact = kv.range({ prefix: 'k/', limit: 25 });
  assert.equal(exact.more, false, 'a page that ends exactly at the range end has no more');
  assert.deepEqual(
    kv.range({ start: 'j', end: 'k/01' }).kvs.map((kv) => kv.key),
    ['j', 'k/00'],
  );
  assert.equal(kv.range({ start: 'k0' }).kvs.length, 1);
  assert.equal(kv.range({ prefix: '' }).kvs.length, 27);
  const ko = kv.range({ prefix: 'k/0', keysOnly: true, limit: 1 });
  assert.deepEqual(ko.kvs[0], { key: 'k/00', createRevision: 1, modRevision: 1, version: 1, lease: '' });
  assert.equal(ko.revision, 1);
});

test('snapshot v2 round trip keeps revisions, versions, leases, their keys and the id counter; it is point-in-time', async () => {
  const kv = new KvStore();
  apply(kv, encodeLeaseGrant(30));
  apply(kv, encodeLeaseGrant(40));
  apply(kv, encodeLeaseRevoke(1));
  apply(kv, set({ a: '1', 'ü/ключ': 'значение' }));
  apply(kv, set({ a: '2' }));
  apply(kv, txn({ success: [{ put: { key: 'leased', value: 'x', lease: '2' } }] }));
  const snap = writeSnapshot(kv);
  apply(kv, set({ after: 'snapshot' }));
  const chunks: Uint8Array[] = [];
  for await (const c of snap) chunks.push(c);
  const restored = await restoreSnapshot(once(Buffer.concat(chunks)));
  assert.equal(restored.revision, 3);
  assert.equal(restored.get('after'), undefined, 'the snapshot is the state when it was taken');
  assert.deepEqual(restored.keyValue('a'), { key: 'a', value: '2', createRevision: 1, modRevision: 2, version: 2, lease: '' });
  assert.deepEqual(restored.keyValue('leased')!.lease, '2');
  assert.deepEqual([...restored.leases.keys()], [2]);
  assert.deepEqual([...restored.leases.get(2)!.keys], ['leased']);
  assert.equal(restored.leases.get(2)!.ttl, 40);
  assert.equal(apply(restored, encodeLeaseGrant(5)).lease?.id, '3');
  // Same result through the state machine's restore/install.
  const sm = new KvStateMachine();
  const prepared = await sm.restore(once(Buffer.concat(chunks)));
  prepared.install();
  assert.equal(sm.store.revision, 3);
  const again = await roundTrip(restored);
  assert.deepEqual([...again.entries()], [...restored.entries()]);
});

test('a snapshot and a backup written by release 0.1.0 (format v1) restore: keys at revision 1, version 1', async () => {
  const bare = readFileSync(join(fixtures, 'snapshot-v1-release-0.1.0.bin'));
  const store = await restoreSnapshot(once(bare));
  const expected = {
    'config/db/host': 'db1.internal',
    'config/db/port': '5432',
    empty: '',
    'unicode/ключ': 'значение ✓',
  };
  assert.deepEqual(Object.fromEntries(store.entries()), expected);
  assert.equal(store.revision, 1);
  assert.deepEqual(store.keyValue('config/db/port'), {
    key: 'config/db/port',
    value: '5432',
    createRevision: 1,
    modRevision: 1,
    version: 1,
    lease: '',
  });
  // The next write continues from revision 1.
  assert.deepEqual(store.apply(encodeCommand({ op: 'set', pairs: { 'config/db/port': '6432' } }), 1), { revision: 2 });
  assert.equal(store.keyValue('config/db/port')!.version, 2);
  const { verifyBackupFile } = await import('../../src/client/backup-format.ts');
  const backup = await verifyBackupFile(join(fixtures, 'backup-v1-release-0.1.0.graftd'));
  assert.equal(backup.meta?.graftdVersion, '0.1.0');
  assert.deepEqual(Object.fromEntries(backup.store.entries()), expected);
  assert.equal(backup.store.revision, 1);
});

test('malformed txn and lease commands from the log are GRAFTD_CORRUPT and change nothing', () => {
  const kv = new KvStore();
  apply(kv, set({ a: '1' }));
  const packr = new Packr({ useRecords: false });
  for (const bad of [
    [3, [], []],
    [3, [['a', 9, 0, 'x']], [], []],
    [3, [['a', 1, 0, 'not a number']], [], []],
    [3, [], [[1, 'k', 'v']], []],
    [3, [], [[9, 'k']], []],
    [4, 1, 0],
    [4, 2, -1],
    [4, 4, 1],
    [7, []],
  ]) {
    assert.throws(
      () => kv.apply(packr.pack(bad), 5),
      (err: { code?: string }) => err.code === 'GRAFTD_CORRUPT',
      JSON.stringify(bad),
    );
  }
  assert.equal(kv.revision, 1);
  assert.deepEqual(Object.fromEntries(kv.entries()), { a: '1' });
});

test('a range page also ends at about 4 Mi characters of keys and values (at least one key), with more and next', () => {
  const kv = new KvStore();
  const big = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < 6; i++) apply(kv, set({ [`big/${i}`]: big }));
  const page = kv.range({ prefix: 'big/', limit: 100 });
  assert.equal(page.kvs.length, 3);
  assert.equal(page.more, true);
  assert.equal(page.next, 'big/2');
  const rest = kv.range({ prefix: 'big/', limit: 100, after: page.next! });
  assert.equal(rest.kvs.length, 3);
  assert.equal(rest.more, false);
  assert.equal(kv.range({ prefix: 'big/', limit: 100, keysOnly: true }).kvs.length, 6, 'keys only: no values counted');
  apply(kv, set({ huge: 'y'.repeat(5 * 1024 * 1024) }));
  assert.equal(kv.range({ start: 'huge', limit: 10 }).kvs.length, 1, 'one key even when it alone is over the budget');
});
