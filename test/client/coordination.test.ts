/**
 * The client's coordination calls (src/client/coordination.ts) against a real HTTP server around
 * the fake node (real KvStore): shapes, ConditionFailedError with `current`, paging, leases — and
 * the retry rule: a conditional write or txn whose outcome is unknown is sent once, never again;
 * a keepalive (idempotent) is retried.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ConditionFailedError, GraftdClient, GraftdClientError } from '../../src/client/index.ts';
import type { FakeNode } from '../http/fake-node.ts';
import { makeServer } from '../http/helpers.ts';

// 127.0.0.225 is allocated to the coordination tests (HTTP 18251, graftctl 18252, these 18253-18254).
const host = '127.0.0.225';
let app: FastifyInstance;
let node: FakeNode;
let client: GraftdClient;

before(async () => {
  ({ app, node } = await makeServer());
  await app.listen({ host, port: 18253 });
  client = new GraftdClient({ endpoints: [`${host}:18253`], retries: 2, backoffBaseMs: 10 });
});
after(async () => {
  await client.close();
  await app.close();
});

test('getMeta, put with conditions, ConditionFailedError carrying current, deleteIf', async () => {
  assert.deepEqual(await client.getMeta('c/none'), { kv: undefined, revision: node.store.revision });
  const { revision: r1 } = await client.put('c/k', 'v1', { ifAbsent: true });
  assert.equal(r1, node.store.revision);
  const meta = await client.getMeta('c/k');
  assert.deepEqual(meta, { kv: { key: 'c/k', value: 'v1', createRevision: r1, modRevision: r1, version: 1, lease: '' }, revision: r1 });
  const err = await client.put('c/k', 'v2', { ifModRevision: r1 + 7 }).catch((e: unknown) => e);
  assert.ok(err instanceof ConditionFailedError, String(err));
  assert.ok(err instanceof GraftdClientError);
  assert.equal(err.code, 'GRAFTD_CONDITION_FAILED');
  assert.equal(err.status, 412);
  assert.equal(err.outcomeUnknown, false);
  assert.deepEqual(err.current, meta.kv);
  const { revision: r2 } = await client.put('c/k', 'v2', { ifModRevision: r1, ifVersion: 1, ifValue: 'v1' });
  assert.equal(r2, r1 + 1);
  const absent = await client.put('c/none', 'x', { ifValue: 'y' }).catch((e: unknown) => e);
  assert.ok(absent instanceof ConditionFailedError);
  assert.equal(absent.current, null);
  await assert.rejects(client.deleteIf('c/k', {}), { code: 'GRAFTD_CLIENT_BAD_ARGUMENT' });
  await assert.rejects(client.deleteIf('c/k', { ifModRevision: r1 }), ConditionFailedError);
  assert.deepEqual(await client.deleteIf('c/k', { ifModRevision: r2 }), { revision: r2 + 1, deleted: 1 });
});

test('range pages and rangeAll walks every page in order', async () => {
  const pairs: Record<string, string> = {};
  for (let i = 0; i < 23; i++) pairs[`r/${String(i).padStart(2, '0')}`] = String(i);
  await client.set(pairs);
  const page = await client.range({ prefix: 'r/', limit: 5 });
  assert.equal(page.kvs.length, 5);
  assert.equal(page.more, true);
  assert.equal(page.next, 'r/04');
  const keysOnly = await client.range({ start: 'r/10', end: 'r/12', keysOnly: true }, 'stale');
  assert.deepEqual(
    keysOnly.kvs.map((kv) => [kv.key, kv.value]),
    [
      ['r/10', undefined],
      ['r/11', undefined],
    ],
  );
  const calls = node.calls.length;
  const all: string[] = [];
  for await (const kv of client.rangeAll({ prefix: 'r/', limit: 5 })) all.push(kv.key);
  assert.deepEqual(all, Object.keys(pairs));
  assert.equal(node.calls.slice(calls).filter((c) => c.method === 'range').length, 5);
  await assert.rejects(client.range({ prefix: 'r/', limit: 0 }), { code: 'GRAFTD_INVALID_BODY', status: 400 });
});

test('txn and leases', async () => {
  const result = await client.txn({
    compare: [{ key: 't/a', target: 'exists', op: '=', value: false }],
    success: [{ put: { key: 't/a', value: '1' } }],
    failure: [],
  });
  assert.equal(result.succeeded, true);
  assert.deepEqual(result.results, [{ op: 'put', key: 't/a' }]);
  await assert.rejects(client.txn({ compare: [], success: [{ put: { key: 't/b', value: 1 as unknown as string } }], failure: [] }), {
    code: 'GRAFTD_INVALID_BODY',
    message: /success\[0\]\.put\.value must be a string/,
  });

  const grant = await client.leaseGrant(30);
  assert.equal(grant.ttl, 30);
  await client.put('t/l', 'x', { lease: grant.id });
  const info = await client.leaseGet(grant.id);
  assert.ok(info !== undefined);
  assert.deepEqual(info.keys, ['t/l']);
  assert.equal(info.revision, node.store.revision);
  assert.deepEqual(await client.leaseKeepAlive(grant.id), grant);
  assert.ok((await client.leaseList()).leases.some((l) => l.id === grant.id));
  assert.deepEqual(await client.leaseRevoke(grant.id), { revision: node.store.revision, deleted: 1 });
  assert.equal(await client.leaseGet(grant.id), undefined);
  await assert.rejects(client.leaseKeepAlive(grant.id), { code: 'GRAFTD_LEASE_NOT_FOUND', status: 404 });
  await assert.rejects(client.leaseRevoke('XYZ'), { code: 'GRAFTD_CLIENT_BAD_ARGUMENT' });
});

test('an outcome-unknown conditional put or txn is sent once; a keepalive is retried', async () => {
  // Reads each request, then closes the connection without answering: the outcome is unknown.
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', (data) => {
      requests.push(String(data).split('\r\n', 1)[0]!);
      socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(18254, host, resolve));
  const blind = new GraftdClient({ endpoints: [`${host}:18254`], retries: 3, backoffBaseMs: 5 });
  try {
    for (const call of [
      () => blind.put('k', 'v', { ifVersion: 0 }),
      () => blind.deleteIf('k', { ifModRevision: 3 }),
      () => blind.txn({ compare: [], success: [], failure: [] }),
      () => blind.leaseGrant(10),
      () => blind.leaseRevoke('1f'),
    ]) {
      requests.length = 0;
      const err = await call().catch((e: unknown) => e);
      assert.ok(err instanceof GraftdClientError, String(err));
      assert.equal(err.outcomeUnknown, true, err.message);
      assert.equal(requests.length, 1, requests.join(', '));
    }
    requests.length = 0;
    await assert.rejects(blind.leaseKeepAlive('1f'));
    assert.equal(requests.length, 4, requests.join(', '));
    assert.deepEqual(new Set(requests), new Set(['POST /lease/1f/keepalive HTTP/1.1']));
  } finally {
    await blind.close();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
