/**
 * A browser follows a watch with the standard EventSource (issue 14): headless Debian chromium
 * (playwright-core) on a small page the test serves at graftd's own origin (intercepted by the
 * browser, so the page's EventSource reaches the real /watch same-origin). The page sees every
 * change in revision order, once — a multi-key transaction as consecutive events of one revision
 * whose last event alone carries the id, so EventSource's Last-Event-ID always names a complete
 * revision — and after a graceful restart of the node (`event: closed`, then connection refused
 * until it is back) EventSource resumes by itself with Last-Event-ID: nothing lost, nothing repeated.
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

test('EventSource on a same-origin page follows a watch in order, transactions whole, and resumes across a node restart', {
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

  // Restart the node: the stream ends (event: closed), EventSource retries until the node is back
  // and resumes by itself with Last-Event-ID.
  await cluster.stop('e0');
  await cluster.startNode('e0', { waitHealthy: false });
  await cluster.waitHealthy('e0', 60_000);
  await cluster.waitForLeader();
  for (let i = 5; i < 10; i++) await put(`eb/${i % 2}`, `v${i}`);
  await waitSeen(expected.length, 30_000);
  await page.waitForTimeout(300); // a duplicate would arrive right behind
  assert.deepEqual(strip(await seen()), expected, 'every change once, in order, across the restart');
  const opens = await page.evaluate(() => (window as unknown as { opens: number }).opens);
  assert.ok(opens >= 2, `EventSource reconnected by itself (${opens} opens)`);
  console.log(`# EventSource: ${expected.length} changes in order across a node restart, ${opens} connections`);
});
