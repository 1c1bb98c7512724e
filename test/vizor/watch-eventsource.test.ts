/**
 * A browser follows a watch with the standard EventSource (issue 14): headless Debian chromium
 * (playwright-core) on a small page the test serves at graftd's own origin (intercepted by the
 * browser, so the page's EventSource reaches the real /watch same-origin). The page sees every
 * change in revision order, once — a multi-key transaction as consecutive events of one revision
 * whose last event alone carries the id (so EventSource's Last-Event-ID, sent when it reconnects,
 * always names a complete revision; resuming from it is tested in test/http/watch.test.ts).
 * No restart here: a graftd start costs seconds of the CI budget.
 *
 * Address: 127.0.0.241, HTTP 15241, raft 16241 (one node).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { GraftdClient } from '../../src/client/index.ts';
import { Cluster } from '../integration/cluster.ts';
import { haveChromium, launchChromium, skipWithoutChromium } from './browser.ts';

let cluster: Cluster;
let browser: Browser;
let page: Page;
let client: GraftdClient;

before(async () => {
  if (!haveChromium) return;
  cluster = new Cluster({ ips: ['127.0.0.241'], httpPortBase: 15241, raftPortBase: 16241, env: { FOUNDING_QUIET: '0' } });
  await cluster.startNode('e0');
  await cluster.waitForLeader();
  client = new GraftdClient({ endpoints: [cluster.info('e0').httpAddr], timeoutMs: 5000, retries: 20 });
  browser = await launchChromium();
  page = await browser.newPage();
});

after(async () => {
  await client?.close();
  await browser?.close();
  await cluster?.destroy();
});

/** The page: an EventSource on /watch, every message's parsed data kept in window.seen. */
function watchPage(from: number): string {
  return `<!doctype html><meta charset="utf-8"><title>watch</title><pre id="log"></pre><script>
  window.seen = []; window.opens = 0; window.errors = 0;
  const es = new EventSource('/watch?prefix=eb/&prevValue=true&fromRevision=${from}');
  es.onopen = () => { window.opens++; };
  es.onerror = () => { window.errors++; };
  es.onmessage = (e) => {
    const change = JSON.parse(e.data);
    window.seen.push({ type: change.type, key: change.key, value: change.value, rev: change.modRevision, lastEventId: e.lastEventId });
    document.getElementById('log').textContent += e.data + '\\n';
  };
</script>`;
}

interface Seen {
  type: string;
  key: string;
  value?: string;
  rev: number;
  lastEventId: string;
}

const seen = (): Promise<Seen[]> => page.evaluate(() => (window as unknown as { seen: Seen[] }).seen);

async function waitSeen(n: number, ms = 20_000): Promise<Seen[]> {
  await page.waitForFunction((count) => (window as unknown as { seen: unknown[] }).seen.length >= count, n, { timeout: ms });
  return seen();
}

test('EventSource on a same-origin page follows a watch: every change once, in order, transactions whole', {
  skip: skipWithoutChromium,
}, async () => {
  const origin = cluster.url('e0');
  const from = (await client.getMeta('eb/none')).revision + 1;
  await page.route(`${origin}/watch-page.html`, (route) => route.fulfill({ contentType: 'text/html', body: watchPage(from) }));
  await page.goto(`${origin}/watch-page.html`);

  const expected: { type: string; key: string; value?: string; rev: number }[] = [];
  const put = async (key: string, value: string): Promise<void> => {
    expected.push({ type: 'put', key, value, rev: (await client.put(key, value)).revision });
  };
  for (let i = 0; i < 5; i++) await put(`eb/${i % 2}`, `v${i}`);
  await client.put('other/key', 'not watched');
  const txn = await client.txn({
    compare: [],
    success: [{ put: { key: 'eb/t1', value: 'a' } }, { put: { key: 'eb/t2', value: 'b' } }, { delete: { key: 'eb/0' } }],
    failure: [],
  });
  expected.push(
    { type: 'put', key: 'eb/t1', value: 'a', rev: txn.revision },
    { type: 'put', key: 'eb/t2', value: 'b', rev: txn.revision },
    { type: 'delete', key: 'eb/0', rev: txn.revision },
  );
  const strip = (list: Seen[]): { type: string; key: string; value?: string; rev: number }[] =>
    list.map(({ type, key, value, rev }) => (value === undefined ? { type, key, rev } : { type, key, value, rev }));
  const first = await waitSeen(expected.length);
  assert.deepEqual(strip(first), expected);
  // Within the transaction only the last event carries the id: the earlier ones keep the last
  // complete revision the page saw (the unwatched write in between sent nothing).
  const before = String(expected[4]!.rev);
  assert.deepEqual(
    first.slice(-3).map((s) => s.lastEventId),
    [before, before, String(txn.revision)],
  );
  assert.equal(expected[4]!.rev, txn.revision - 2);

  await page.waitForTimeout(300); // a duplicate would arrive right behind
  assert.deepEqual(strip(await seen()), expected, 'every change once, in order');
  console.log(`# EventSource: ${first.length} changes in order (one transaction of 3 as one revision)`);
});
