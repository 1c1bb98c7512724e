/**
 * The watch client's resume logic (src/client/watch.ts) against scripted event-stream servers:
 * changes held until their revision's id arrives, a stream cut mid-revision resumed from the last
 * complete revision on the next endpoint (and on the same one when it is the only one),
 * duplicates dropped, progress moving the position, "now" taken from the revision header,
 * compacted answers tried elsewhere before WatchCompactedError, final errors not retried, the
 * idle timeout, the failure bound, and abort / client close ending the iteration.
 *
 * Address: 127.0.0.239 (allocated to the watch tests), ports chosen by the kernel.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { GraftdClient, type GraftdClientError, WatchCompactedError, type WatchRevision } from '../../src/client/index.ts';

const HOST = '127.0.0.239';

type Script = (req: IncomingMessage, res: ServerResponse) => void;

/** A server answering its requests with `scripts` in turn (then 503), recording each request's query. */
class FakeWatchServer {
  readonly requests: URLSearchParams[] = [];
  readonly #scripts: Script[];
  readonly #server: Server;
  readonly #open = new Set<ServerResponse>();
  endpoint = '';

  constructor(scripts: Script[]) {
    this.#scripts = scripts;
    this.#server = createServer((req, res) => {
      this.requests.push(new URL(req.url ?? '/', 'http://x').searchParams);
      this.#open.add(res);
      res.on('close', () => this.#open.delete(res));
      const script = this.#scripts.shift();
      if (script === undefined) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"no more scripts","code":"GRAFTD_UNAVAILABLE"}');
        return;
      }
      script(req, res);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, HOST, resolve));
    this.endpoint = `${HOST}:${(this.#server.address() as AddressInfo).port}`;
    servers.push(this);
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.#open) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const servers: FakeWatchServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** A change event's text; `id` marks the last change of its revision. */
function change(key: string, revision: number, value: string, id: boolean): string {
  const data = JSON.stringify({ type: 'put', key, value, createRevision: revision, modRevision: revision, version: 1 });
  return `${id ? `id: ${revision}\n` : ''}data: ${data}\n\n`;
}

/** Start a 200 event stream (X-Graftd-Revision `now`) and write `text`. */
function stream(res: ServerResponse, text: string, now = 0): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-graftd-revision': String(now) });
  res.write(`retry: 1000\n\n${text}`);
}

function client(endpoints: readonly string[]): GraftdClient {
  return new GraftdClient({ endpoints: [...endpoints], timeoutMs: 2000 });
}

/** Collect `n` revisions from an iterator, failing after `ms`. */
async function take(it: AsyncIterator<WatchRevision>, n: number, ms = 5000): Promise<WatchRevision[]> {
  const out: WatchRevision[] = [];
  const deadline = setTimeout(() => void it.return?.(undefined), ms);
  try {
    while (out.length < n) {
      const r = await it.next();
      if (r.done === true) break;
      out.push(r.value);
    }
  } finally {
    clearTimeout(deadline);
  }
  return out;
}

const fast = { backoffBaseMs: 10, backoffMaxMs: 50 };

test('changes are held until the event carrying their revision id arrives, then handed over as one revision', async () => {
  let finish: () => void = () => undefined;
  const a = await new FakeWatchServer([
    (_req, res) => {
      stream(res, change('p/a', 5, '1', false));
      finish = () => res.write(change('p/b', 5, '2', true));
    },
  ]).start();
  const c = client([a.endpoint]);
  try {
    const it = c.watchRevisions({ prefix: 'p/', fromRevision: 5 });
    const first = it.next();
    const early = await Promise.race([first.then(() => 'yielded'), new Promise((r) => setTimeout(() => r('held'), 300))]);
    assert.equal(early, 'held', 'half a revision must not be yielded');
    finish();
    const r = await first;
    assert.deepEqual(
      r.value?.events.map((e) => [e.key, e.value, e.modRevision]),
      [
        ['p/a', '1', 5],
        ['p/b', '2', 5],
      ],
    );
    assert.equal(r.value?.revision, 5);
    assert.equal(a.requests[0]?.get('prefix'), 'p/');
    assert.equal(a.requests[0]?.get('fromRevision'), '5');
    await it.return(undefined);
  } finally {
    await c.close();
  }
});

test('a stream cut in the middle of a revision resumes from the last complete one on the next endpoint; replays are dropped', async () => {
  const a = await new FakeWatchServer([
    (_req, res) => {
      stream(res, change('k/1', 5, 'a', true) + change('k/2', 6, 'b', false));
      setTimeout(() => res.destroy(), 50);
    },
  ]).start();
  const b = await new FakeWatchServer([
    // B replays from 5 although asked for 6: the client must drop revision 5.
    (_req, res) =>
      stream(res, change('k/1', 5, 'a', true) + change('k/2', 6, 'b', false) + change('k/3', 6, 'c', true) + change('k/4', 7, 'd', true)),
  ]).start();
  const c = client([a.endpoint, b.endpoint]);
  const connects: string[] = [];
  try {
    const it = c.watchRevisions({
      prefix: 'k/',
      fromRevision: 5,
      ...fast,
      onConnect: (i) => connects.push(`${i.endpoint}@${i.fromRevision}`),
    });
    const got = await take(it, 3);
    assert.deepEqual(
      got.map((r) => [r.revision, r.events.map((e) => e.key)]),
      [
        [5, ['k/1']],
        [6, ['k/2', 'k/3']],
        [7, ['k/4']],
      ],
    );
    assert.deepEqual(connects, [`${a.endpoint}@5`, `${b.endpoint}@6`]);
    assert.equal(b.requests[0]?.get('fromRevision'), '6');
    await it.return(undefined);
  } finally {
    await c.close();
  }
});

test('with one endpoint the same one is asked again; a progress event and a closed event move the position', async () => {
  const a = await new FakeWatchServer([
    (_req, res) => {
      stream(res, `${change('x', 3, 'v', true)}event: progress\nid: 10\ndata: {"revision":10}\n\n`);
      res.end('event: closed\ndata: {"reason":"shutdown","revision":10}\n\n');
    },
    (_req, res) => stream(res, change('x', 12, 'w', true)),
  ]).start();
  const c = client([a.endpoint]);
  try {
    const it = c.watchRevisions({ key: 'x', fromRevision: 1, ...fast });
    const got = await take(it, 2);
    assert.deepEqual(
      got.map((r) => r.revision),
      [3, 12],
    );
    assert.equal(a.requests[1]?.get('fromRevision'), '11', 'resumed after the progress revision');
    assert.equal(a.requests[1]?.get('key'), 'x');
    await it.return(undefined);
  } finally {
    await c.close();
  }
});

test('without fromRevision the first stream starts "now" (its X-Graftd-Revision) and a reconnect continues from there', async () => {
  const a = await new FakeWatchServer([
    (_req, res) => stream(res, '', 41),
    (_req, res) => stream(res, change('n', 42, 'v', true), 42),
  ]).start();
  const c = client([a.endpoint]);
  try {
    const it = c.watch({ key: 'n', ...fast, idleTimeoutMs: 200 });
    const first = await it.next();
    assert.equal(first.value?.modRevision, 42);
    assert.equal(a.requests[0]?.get('fromRevision'), null);
    assert.equal(a.requests[1]?.get('fromRevision'), '42', 'the idle stream was given up and resumed at now + 1');
    await it.return(undefined);
  } finally {
    await c.close();
  }
});

const gone = (oldest: number): Script => {
  return (_req, res) =>
    res
      .writeHead(410, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: 'compacted', code: 'GRAFTD_REVISION_COMPACTED', oldest }));
};

test('a 410 on one endpoint is tried on the others; compacted everywhere is WatchCompactedError with the oldest kept revision', async () => {
  const a = await new FakeWatchServer([gone(50)]).start();
  const b = await new FakeWatchServer([(_req, res) => stream(res, change('z', 2, 'v', true))]).start();
  const c = client([a.endpoint, b.endpoint]);
  try {
    const got = await take(c.watchRevisions({ key: 'z', fromRevision: 2, ...fast }), 1);
    assert.equal(got[0]?.revision, 2);
  } finally {
    await c.close();
  }
  const d = await new FakeWatchServer([gone(70)]).start();
  // One stream cut by event: compacted, the other refusing with 410.
  const e = await new FakeWatchServer([
    (_req, res) => res.end(stream(res, 'event: compacted\ndata: {"oldest":60,"revision":1}\n\n')),
  ]).start();
  const c2 = client([d.endpoint, e.endpoint]);
  try {
    await assert.rejects(
      async () => {
        for await (const _ of c2.watch({ prefix: '', fromRevision: 2, ...fast })) assert.fail('nothing to yield');
      },
      (err: unknown) =>
        err instanceof WatchCompactedError && err.oldest === 60 && err.revision === 2 && err.code === 'GRAFTD_REVISION_COMPACTED',
    );
  } finally {
    await c2.close();
  }
});

test('a refusal that no retry can fix (400, 403) is thrown at once; unreachable endpoints give up after maxFailures', async () => {
  const a = await new FakeWatchServer([
    (_req, res) =>
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"key must not be empty","code":"GRAFTD_INVALID_BODY"}'),
  ]).start();
  const c = client([a.endpoint]);
  try {
    await assert.rejects(
      async () => {
        for await (const _ of c.watch({ key: '', ...fast })) assert.fail('nothing to yield');
      },
      (err: unknown) => (err as GraftdClientError).code === 'GRAFTD_INVALID_BODY' && /key must not be empty/.test((err as Error).message),
    );
    assert.equal(a.requests.length, 1, 'not retried');
  } finally {
    await c.close();
  }
  // Nothing listens on these ports (two servers started and closed).
  const dead = await Promise.all([new FakeWatchServer([]).start(), new FakeWatchServer([]).start()]);
  for (const d of dead) await d.close();
  const c2 = client(dead.map((d) => d.endpoint));
  const attempts: string[] = [];
  try {
    const started = Date.now();
    await assert.rejects(
      async () => {
        for await (const _ of c2.watch({ key: 'k', ...fast, maxFailures: 6, onConnect: (i) => attempts.push(i.endpoint) }))
          assert.fail('nothing to yield');
      },
      (err: unknown) => (err as GraftdClientError).code === 'GRAFTD_CLIENT_UNREACHABLE' && /6 attempts/.test((err as Error).message),
    );
    assert.equal(attempts.length, 6);
    assert.deepEqual(attempts.slice(0, 2), [dead[0]!.endpoint, dead[1]!.endpoint], 'endpoints in rotation');
    assert.ok(Date.now() - started < 2000, 'bounded backoff');
  } finally {
    await c2.close();
  }
  assert.throws(() => c2.watch({ key: 'k' }), /closed/);
  const c3 = client([a.endpoint]);
  assert.throws(() => c3.watch({ key: 'a', prefix: 'b' } as never), /exactly one of key and prefix/);
  assert.throws(() => c3.watch({ key: 'a', fromRevision: 0 }), /fromRevision/);
  await c3.close();
});

test('abort ends the iteration without an error, and client.close() ends open watches promptly', async () => {
  const a = await new FakeWatchServer([(_req, res) => stream(res, change('q', 1, 'v', true)), (_req, res) => stream(res, '')]).start();
  const c = client([a.endpoint]);
  const controller = new AbortController();
  const seen: number[] = [];
  const run = (async () => {
    for await (const ev of c.watch({ key: 'q', fromRevision: 1, signal: controller.signal })) seen.push(ev.modRevision);
  })();
  await new Promise((r) => setTimeout(r, 200));
  controller.abort();
  await run;
  assert.deepEqual(seen, [1]);
  const hanging = (async () => {
    for await (const _ of c.watch({ key: 'q', fromRevision: 2 })) assert.fail('nothing to yield');
  })();
  await new Promise((r) => setTimeout(r, 200));
  const started = Date.now();
  await c.close();
  await hanging;
  assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`);
});
