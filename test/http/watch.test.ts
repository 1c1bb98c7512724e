/**
 * GET /watch (issue 14): Server-Sent Events from the node's applied changes — live events, replay
 * from a revision, resume with Last-Event-ID, multi-key revisions (the id on the last change only),
 * progress when idle, 410 below the kept history, compacted on a snapshot jump, a slow reader
 * closed, the per-address cap, and bad parameters. A real listening server on 127.0.0.231 around the
 * HTTP fake node (the real KvStore underneath).
 */
import assert from 'node:assert/strict';
import { type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { KvStore, encodeCommand } from '../../src/kv/index.ts';
import type { ChangeSource } from '../../src/node/api.ts';
import { changeSourceOf } from '../../src/node/graftd-node.ts';
import { FakeNode } from './fake-node.ts';
import { makeServer } from './helpers.ts';

const HOST = '127.0.0.231';

/** A fake node whose change feed is `store` (the fake's own store unless given). */
class WatchableNode extends FakeNode {
  feedStore: KvStore | undefined;
  changes(): ChangeSource {
    return changeSourceOf(this.feedStore ?? this.store);
  }
}

const apps: FastifyInstance[] = [];
after(async () => {
  for (const app of apps) await app.close();
});

async function serve(node = new WatchableNode(), watch = {}): Promise<{ base: string; node: WatchableNode; app: FastifyInstance }> {
  const { app } = await makeServer(node, { watch });
  await app.listen({ host: HOST, port: 0 });
  apps.push(app);
  return { base: `http://${HOST}:${(app.server.address() as AddressInfo).port}`, node, app };
}

interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** An SSE reader over node:http: events as they arrive, the response, and close. */
class Stream {
  readonly events: SseEvent[] = [];
  res!: IncomingMessage;
  ended = false;
  #buf = '';
  #waiters: (() => void)[] = [];
  static open(url: string, headers: Record<string, string> = {}, read = true): Promise<Stream> {
    const s = new Stream();
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        s.res = res;
        res.setEncoding('utf8');
        if (read) res.on('data', (chunk: string) => s.#push(chunk));
        else res.pause();
        res.on('end', () => {
          s.ended = true;
          s.#wake();
        });
        res.on('close', () => {
          s.ended = true;
          s.#wake();
        });
        resolve(s);
      });
      req.on('error', reject);
      req.end();
    });
  }
  #push(chunk: string): void {
    this.#buf += chunk;
    for (let at = this.#buf.indexOf('\n\n'); at >= 0; at = this.#buf.indexOf('\n\n')) {
      const block = this.#buf.slice(0, at);
      this.#buf = this.#buf.slice(at + 2);
      const ev: SseEvent = { event: 'message', id: undefined, data: '' };
      let hasData = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || line.startsWith('retry:')) continue;
        const [field, ...rest] = line.split(':');
        const value = rest.join(':').replace(/^ /, '');
        if (field === 'event') ev.event = value;
        else if (field === 'id') ev.id = value;
        else if (field === 'data') {
          ev.data += value;
          hasData = true;
        }
      }
      if (hasData) this.events.push(ev);
    }
    this.#wake();
  }
  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
  async until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  changes(): { type: string; key: string; value?: string; modRevision: number; prevValue?: string }[] {
    return this.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data));
  }
  close(): void {
    this.res.destroy();
  }
}

test('a key watch gets each change as an event with the revision as id; other keys are not sent', async () => {
  const { base, node } = await serve();
  const s = await Stream.open(`${base}/watch?key=a`);
  assert.equal(s.res.statusCode, 200);
  assert.match(String(s.res.headers['content-type']), /^text\/event-stream/);
  await node.set({ a: '1' });
  await node.set({ b: 'x' });
  await node.set({ a: '2' });
  await node.del(['a']);
  await s.until(() => s.events.length === 3, 'three events');
  assert.deepEqual(
    s.events.map((e) => e.id),
    ['1', '3', '4'],
  );
  assert.deepEqual(s.changes(), [
    { type: 'put', key: 'a', value: '1', createRevision: 1, modRevision: 1, version: 1 },
    { type: 'put', key: 'a', value: '2', createRevision: 1, modRevision: 3, version: 2 },
    { type: 'delete', key: 'a', createRevision: 0, modRevision: 4, version: 0 },
  ]);
  s.close();
});

test('fromRevision replays the kept history in order, then live; prevValue on request; a multi-key revision has its id on the last change', async () => {
  const { base, node } = await serve();
  await node.set({ 'p/a': '1' });
  await node.set({ 'p/a': '2', 'p/b': '1', other: 'x' });
  const s = await Stream.open(`${base}/watch?prefix=p%2F&fromRevision=1&prevValue=true`);
  await node.txn({ compare: [], success: [{ delete: { prefix: 'p/' } }], failure: [] });
  await s.until(() => s.events.length === 5, 'five changes');
  assert.deepEqual(
    s.events.map((e) => e.id),
    ['1', undefined, '2', undefined, '3'],
  );
  const c = s.changes();
  assert.deepEqual(
    c.map((x) => [x.type, x.key, x.modRevision, x.prevValue]),
    [
      ['put', 'p/a', 1, undefined],
      ['put', 'p/a', 2, '1'],
      ['put', 'p/b', 2, undefined],
      ['delete', 'p/a', 3, '2'],
      ['delete', 'p/b', 3, '1'],
    ],
  );
  s.close();
});

test('Last-Event-ID resumes after the last fully received revision', async () => {
  const { base, node } = await serve();
  for (let i = 1; i <= 5; i++) await node.set({ k: String(i) });
  const s = await Stream.open(`${base}/watch?key=k&fromRevision=1`, { 'last-event-id': '3' });
  await s.until(() => s.events.length === 2, 'two events');
  assert.deepEqual(
    s.changes().map((x) => x.value),
    ['4', '5'],
  );
  s.close();
});

test('an idle stream gets progress events naming the revision (as its id)', async () => {
  const { base, node } = await serve(new WatchableNode(), { progressIntervalMs: 100 });
  await node.set({ other: '1' });
  const s = await Stream.open(`${base}/watch?key=quiet`);
  await node.set({ other: '2' });
  await s.until(() => s.events.some((e) => e.event === 'progress' && e.id === '2'), 'a progress event at revision 2');
  const p = s.events.find((e) => e.event === 'progress')!;
  assert.deepEqual(JSON.parse(p.data), { revision: Number(p.id) });
  s.close();
});

test('a start below the kept history is 410 GRAFTD_REVISION_COMPACTED with the oldest; a snapshot jump ends a stream with event compacted', async () => {
  const node = new WatchableNode();
  const feed = new KvStore(undefined, { maxRevisions: 3, maxBytes: 1 << 20 });
  node.feedStore = feed;
  const { base } = await serve(node);
  for (let i = 1; i <= 6; i++) feed.apply(encodeCommand({ op: 'set', pairs: { k: String(i) } }), i);
  const res = await fetch(`${base}/watch?key=k&fromRevision=2`);
  assert.equal(res.status, 410);
  const body = (await res.json()) as { code: string; oldest: number };
  assert.equal(body.code, 'GRAFTD_REVISION_COMPACTED');
  assert.equal(body.oldest, 4);
  const s = await Stream.open(`${base}/watch?key=k&fromRevision=4`);
  await s.until(() => s.events.length === 3, 'revisions 4–6');
  const jumped = new KvStore({ tree: new KvStore().view().tree, revision: 10, nextLeaseId: 1, leases: [] });
  feed.replaceWith(jumped);
  await s.until(() => s.ended, 'the stream to end');
  const last = s.events[s.events.length - 1]!;
  assert.equal(last.event, 'compacted');
  assert.deepEqual(JSON.parse(last.data), { oldest: 11, revision: 6 });
});

test('a client that does not read is closed with event closed (reason slow), not buffered without bound', async () => {
  const { base, node } = await serve(new WatchableNode(), { maxBufferBytes: 64 * 1024 });
  const s = await Stream.open(`${base}/watch?prefix=big`, {}, false);
  const value = 'v'.repeat(200 * 1024);
  for (let i = 0; i < 60; i++) await node.set({ [`big${i % 3}`]: value + i });
  s.res.resume();
  const text: string[] = [];
  s.res.on('data', (c: string) => text.push(c));
  await new Promise<void>((r) => (s.ended ? r() : s.res.on('close', () => r())));
  assert.match(text.join('').slice(-400), /event: closed\ndata: \{"reason":"slow"/);
});

test('watchers per address are capped (503); bad parameters are 400', async () => {
  const { base } = await serve(new WatchableNode(), { maxPerAddress: 1 });
  const s = await Stream.open(`${base}/watch?key=a`);
  const second = await fetch(`${base}/watch?key=b`);
  assert.equal(second.status, 503);
  assert.equal(((await second.json()) as { code: string }).code, 'GRAFTD_TOO_MANY_CONNECTIONS');
  s.close();
  await new Promise((r) => setTimeout(r, 100));
  for (const q of ['', 'key=a&prefix=b', 'key=a&fromRevision=0', 'key=a&fromRevision=x', 'prefix=a&prevValue=yes', 'key=a&nope=1']) {
    const res = await fetch(`${base}/watch?${q}`);
    assert.equal(res.status, 400, q);
    assert.equal(((await res.json()) as { code: string }).code, 'GRAFTD_INVALID_BODY', q);
  }
  const third = await Stream.open(`${base}/watch?key=a`);
  assert.equal(third.res.statusCode, 200, 'the closed watcher no longer counts');
  third.close();
});

test('a txn result and the watch agree on the revision', async () => {
  const { base, node } = await serve();
  const s = await Stream.open(`${base}/watch?prefix=`);
  const r = await node.txn({ compare: [], success: [{ put: { key: 'x', value: '1' } }, { put: { key: 'y', value: '2' } }], failure: [] });
  await s.until(() => s.events.length === 2, 'two changes');
  assert.equal(s.events[1]!.id, String(r.revision));
  s.close();
});
