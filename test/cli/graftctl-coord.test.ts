/**
 * graftctl's coordination commands in-process against a real HTTP server around the fake node
 * (real KvStore): get --meta / --prefix, put with conditions and leases, conditional del, txn from
 * a file and stdin, lease grant|keepalive|revoke|get|list — text and --json, and the exit codes
 * (a failed condition: 1 with one line; usage: 2; key not found: 3).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { FakeNode } from '../http/fake-node.ts';
import { makeServer } from '../http/helpers.ts';
import { graftctl, lines } from '../client/helpers.ts';

const endpoint = '127.0.0.225:18252';
let app: FastifyInstance;
let node: FakeNode;
const dir = mkdtempSync(join(tmpdir(), 'graftctl-coord-'));

before(async () => {
  ({ app, node } = await makeServer());
  await app.listen({ host: '127.0.0.225', port: 18252 });
});
after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

function ctl(args: readonly string[], stdin?: string) {
  return graftctl(
    ['--endpoints', endpoint, '--probe-timeout', '0', '--retries', '0', ...args],
    {},
    stdin === undefined ? {} : { readStdin: async () => stdin },
  );
}

function parse(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

test('put prints the revision; put --if-absent on an existing key exits 1 with one line naming its revision', async () => {
  const first = await ctl(['put', 'cfg/mode', 'fast']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, `OK (revision ${node.store.revision})\n`);
  const rev = node.store.revision;
  const taken = await ctl(['put', 'cfg/mode', 'slow', '--if-absent']);
  assert.equal(taken.code, 1);
  assert.deepEqual(lines(taken.stderr), [
    `graftctl: condition failed for key "cfg/mode": the key is at modRevision ${rev}, version 1; nothing was written`,
  ]);
  assert.equal(taken.stdout, '');
  const json = await ctl(['--json', 'put', 'cfg/mode', 'slow', '--if-mod-revision', String(rev + 3)]);
  assert.equal(json.code, 1);
  const body = parse(json.stdout);
  assert.equal(body.code, 'GRAFTD_CONDITION_FAILED');
  assert.equal(body.exitCode, 1);
  assert.deepEqual(body.current, { key: 'cfg/mode', value: 'fast', createRevision: rev, modRevision: rev, version: 1, lease: '' });
  const swapped = await ctl([
    '--json',
    'put',
    'cfg/mode',
    'slow',
    '--if-mod-revision',
    String(rev),
    '--if-version',
    '1',
    '--if-value',
    'fast',
  ]);
  assert.equal(swapped.code, 0, swapped.stderr);
  assert.deepEqual(parse(swapped.stdout), { ok: true, key: 'cfg/mode', revision: rev + 1 });
  assert.equal(node.store.get('cfg/mode'), 'slow');
  const absent = await ctl(['put', 'cfg/none', 'x', '--if-value', 'y']);
  assert.equal(absent.code, 1);
  assert.match(absent.stderr, /the key does not exist/);
});

test('get --meta prints the metadata; get --prefix lists keys (TAB), --keys-only, --limit, --json; missing key exits 3', async () => {
  await ctl(['set', '--file', writePairs({ 'app/a': '1', 'app/b': '2', 'app/c': '3', apq: 'x' })]);
  const rev = node.store.revision;
  const meta = await ctl(['get', '--meta', 'app/b']);
  assert.equal(meta.code, 0, meta.stderr);
  assert.deepEqual(lines(meta.stdout), [
    'KEY    VALUE  CREATE  MOD  VERSION  LEASE',
    `app/b  2      ${rev}${' '.repeat(8 - String(rev).length)}${rev}${' '.repeat(5 - String(rev).length)}1        -`,
  ]);
  const metaJson = await ctl(['--json', 'get', '--meta', 'app/b']);
  assert.deepEqual(parse(metaJson.stdout), {
    key: 'app/b',
    value: '2',
    createRevision: rev,
    modRevision: rev,
    version: 1,
    lease: '',
    revision: rev,
  });
  assert.equal((await ctl(['get', '--meta', 'app/zz'])).code, 3);
  assert.equal((await ctl(['get', 'app/zz'])).code, 3);
  assert.equal((await ctl(['get', 'app/a'])).stdout, '1\n');

  const prefix = await ctl(['get', '--prefix', 'app/']);
  assert.equal(prefix.stdout, 'app/a\t1\napp/b\t2\napp/c\t3\n');
  assert.equal((await ctl(['get', '--prefix', 'app/', '--keys-only'])).stdout, 'app/a\napp/b\napp/c\n');
  const limited = await ctl(['get', '--prefix', 'app/', '--limit', '2']);
  assert.equal(limited.stdout, 'app/a\t1\napp/b\t2\n(more keys after "app/b"; raise --limit)\n');
  const asJson = parse((await ctl(['--json', 'get', '--prefix', 'app/', '--limit', '2', '--keys-only'])).stdout);
  assert.equal(asJson.more, true);
  assert.equal(asJson.revision, rev);
  assert.deepEqual(
    (asJson.kvs as { key: string; value?: string }[]).map((kv) => [kv.key, kv.value]),
    [
      ['app/a', undefined],
      ['app/b', undefined],
    ],
  );
  const table = await ctl(['get', '--prefix', 'app/', '--meta']);
  assert.equal(lines(table.stdout).length, 4);
});

test('get --prefix pages through more than one server page', async () => {
  const pairs: Record<string, string> = {};
  for (let i = 0; i < 2500; i++) pairs[`big/${String(i).padStart(4, '0')}`] = 'v';
  await ctl(['set', '--file', writePairs(pairs)]);
  const calls = node.calls.length;
  const all = await ctl(['get', '--prefix', 'big/', '--keys-only']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(lines(all.stdout), Object.keys(pairs));
  assert.equal(node.calls.slice(calls).filter((c) => c.method === 'range').length, 3);
  const some = await ctl(['--json', 'get', '--prefix', 'big/', '--limit', '1500']);
  const body = parse(some.stdout);
  assert.equal((body.kvs as unknown[]).length, 1500);
  assert.equal(body.more, true);
});

test('del with and without conditions', async () => {
  await ctl(['put', 'd/k', 'v']);
  const rev = node.store.revision;
  const refused = await ctl(['del', 'd/k', '--if-mod-revision', String(rev - 1)]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^graftctl: condition failed for key "d\/k": the key is at modRevision \d+, version 1; nothing was written\n$/,
  );
  const ok = await ctl(['del', 'd/k', '--if-mod-revision', String(rev)]);
  assert.equal(ok.stdout, `OK (deleted 1, revision ${rev + 1})\n`);
  const plain = await ctl(['del', 'd/k']);
  assert.equal(plain.stdout, 'OK\n');
});

test('txn FILE and txn - (stdin): SUCCEEDED / FAILED (exit 1) with one line per op; bad files and server refusals exit 1', async () => {
  await ctl(['put', 'tx/a', '1']);
  const txn = {
    compare: [{ key: 'tx/a', target: 'value', op: '=', value: '1' }],
    success: [{ put: { key: 'tx/b', value: '2' } }, { delete: { key: 'tx/a' } }, { get: { prefix: 'tx/' } }],
    failure: [{ get: { key: 'tx/a' } }],
  };
  const file = join(dir, 'txn.json');
  writeFileSync(file, JSON.stringify(txn));
  const ok = await ctl(['txn', file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `SUCCEEDED (revision ${node.store.revision})\nput tx/b\ndelete: 1 deleted\nget: 1 key\n  tx/b\t2\n`);
  const failed = await ctl(['txn', '-'], JSON.stringify(txn));
  assert.equal(failed.code, 1);
  assert.equal(failed.stdout, `FAILED: the compares did not hold; the failure branch ran (revision ${node.store.revision})\nget: 0 keys\n`);
  assert.deepEqual(lines(failed.stderr), [
    `graftctl: txn: the compares did not hold; the failure branch ran (revision ${node.store.revision})`,
  ]);
  const failedJson = await ctl(['--json', 'txn', '-'], JSON.stringify(txn));
  assert.equal(failedJson.code, 1);
  assert.deepEqual(
    lines(failedJson.stdout).map((l) => JSON.parse(l) as unknown),
    [{ succeeded: false, revision: node.store.revision, results: [{ op: 'get', kvs: [], more: false }] }],
  );

  writeFileSync(file, '{"compare": [');
  const broken = await ctl(['txn', file]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /is not valid JSON/);
  writeFileSync(file, JSON.stringify({ success: [{ put: { key: 'a', value: 5 } }] }));
  const refused = await ctl(['txn', file]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /success\[0\]\.put\.value must be a string/);
  assert.equal((await ctl(['txn', join(dir, 'missing.json')])).code, 1);
});

test('lease grant | keepalive | get | list | revoke, and put --lease', async () => {
  const grant = await ctl(['lease', 'grant', '60']);
  assert.equal(grant.code, 0, grant.stderr);
  const id = grant.stdout.trim();
  assert.match(id, /^[0-9a-f]+$/);
  const raised = await ctl(['lease', 'grant', '1']);
  assert.match(raised.stderr, new RegExp(`ttl raised to ${node.minLeaseTtl} s`));
  assert.equal((await ctl(['put', 'svc/a', '10.0.0.1', '--lease', id])).code, 0);
  const info = await ctl(['lease', 'get', id]);
  assert.match(info.stdout, new RegExp(`^lease ${id}: ttl 60 s, \\d+\\.\\d s remaining, 1 key\\n  svc/a\\n$`));
  const list = await ctl(['lease', 'list']);
  assert.match(list.stdout, /^ID\s+TTL\s+REMAINING\n/);
  assert.match(list.stdout, new RegExp(`\\n${id}\\s+60\\s+`));
  assert.deepEqual(parse((await ctl(['--json', 'lease', 'keepalive', id])).stdout), { id, ttl: 60 });
  const revoke = await ctl(['lease', 'revoke', id]);
  assert.equal(revoke.stdout, `OK: lease ${id} revoked, 1 key deleted (revision ${node.store.revision})\n`);
  assert.equal(node.store.get('svc/a'), undefined);
  const gone = await ctl(['lease', 'get', id]);
  assert.equal(gone.code, 1);
  assert.deepEqual(lines(gone.stderr), [`graftctl: lease not found: ${id}`]);
  assert.equal((await ctl(['lease', 'keepalive', id])).code, 1);
  const missingLease = await ctl(['put', 'svc/b', 'x', '--lease', id]);
  assert.equal(missingLease.code, 1);
  assert.match(missingLease.stderr, /lease .* not found/);
});

test('usage errors exit 2 before anything is sent', async () => {
  const calls = node.calls.length;
  for (const args of [
    ['get'],
    ['get', 'k', '--prefix', 'a'],
    ['get', 'k', '--limit', '5'],
    ['get', '--prefix', 'a', '--limit', '0'],
    ['put', 'k'],
    ['put', 'k', 'v', '--if-mod-revision', '-1'],
    ['put', 'k', 'v', '--if-version', 'x'],
    ['put', 'k', 'v', '--lease', 'XYZ'],
    ['del', 'k', '--if-mod-revision', '1.5'],
    ['txn'],
    ['lease', 'grant', '0'],
    ['lease', 'grant', '31536001'],
    ['lease', 'revoke', 'G1'],
    ['lease', 'get'],
    ['lease', 'frobnicate'],
  ]) {
    const r = await ctl(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(lines(r.stderr).length, 1, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.equal(node.calls.length, calls);
});

test('help: each new command has an example', async () => {
  for (const args of [
    ['put'],
    ['txn'],
    ['lease', 'grant'],
    ['lease', 'revoke'],
    ['lease', 'get'],
    ['lease', 'list'],
    ['lease', 'keepalive'],
  ]) {
    const r = await ctl([...args, '--help']);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Example:\n {2}\$ graftctl /, args.join(' '));
  }
  const top = await ctl(['--help']);
  for (const name of ['put', 'txn', 'lease']) assert.match(top.stdout, new RegExp(`\\n\\s+${name}\\b`), name);
});

let pairFiles = 0;
function writePairs(pairs: Record<string, string>): string {
  const file = join(dir, `pairs-${pairFiles++}.json`);
  writeFileSync(file, JSON.stringify(pairs));
  return file;
}
