// The live view in a real browser: headless Debian chromium driven by playwright-core against
// a real 3-node cluster. Skipped only when no chromium binary is installed (CI installs it).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Cluster } from '../integration/cluster.ts';
import { haveChromium, launchChromium, skipWithoutChromium } from './browser.ts';

const ARTIFACTS = resolve(import.meta.dirname, '../../artifacts');

let cluster: Cluster;
let browser: Browser;
let page: Page;

before(async () => {
  if (!haveChromium) return;
  cluster = new Cluster({ ips: ['127.0.0.61', '127.0.0.62', '127.0.0.63'], httpPortBase: 19500, raftPortBase: 19600 });
  await cluster.startNode('v0');
  await cluster.waitForLeader();
  await cluster.startNode('v1', { join: 'v0' });
  await cluster.startNode('v2', { join: 'v0' });
  await cluster.waitStatus(
    'v0',
    (s) => Array.isArray(s.members) && s.members.filter((m: { voter: boolean }) => m.voter).length === 3,
    30_000,
  );
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});

after(async () => {
  await browser?.close();
  await cluster?.destroy();
});

test('the live view shows the cluster, replicates a write and notices a dead node', {
  skip: skipWithoutChromium,
}, async () => {
  const leader = await cluster.waitForLeader();
  const followers = ['v0', 'v1', 'v2'].filter((id) => id !== leader);
  await page.goto(`${cluster.url('v1')}/ui`);

  // Three node columns appear.
  for (const id of ['v0', 'v1', 'v2']) await page.locator(`#events-head th[data-node="${id}"]`).waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('#events-head th[data-node]').count(), 3);

  // The leader is marked in the cluster picture.
  await page.locator(`.node-card[data-node="${leader}"][data-role="leader"]`).waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('.node-card[data-role="leader"]').count(), 1);

  // Wait until every event stream is open, then write through the form.
  await page.waitForFunction(() => document.getElementById('stream-state')?.textContent?.startsWith('3/3'), undefined, { timeout: 15_000 });
  await page.fill('#kv-key', 'vizor-key');
  await page.fill('#kv-value', 'hello from the browser');
  await page.click('#kv-write');
  await page.waitForFunction(() => document.getElementById('kv-result')?.dataset.status === '200', undefined, { timeout: 15_000 });

  // Every follower's column shows an AppendEntries carrying entries, received from the leader.
  for (const id of followers) {
    await page
      .locator(`#events-body tr[data-node="${id}"][data-kind="recv"][data-rpc="AppendEntries"]:not([data-entries="0"])`)
      .first()
      .waitFor({ state: 'attached', timeout: 15_000 });
  }
  const res = await cluster.get(followers[0]!, '/key/vizor-key?level=stale');
  assert.equal(res.status, 200);

  // Read it back through the form.
  await page.click('#kv-read');
  await page.waitForFunction(() => document.getElementById('kv-result')?.textContent?.includes('hello from the browser'), undefined, {
    timeout: 10_000,
  });

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.click('#kv-write');
  await page.waitForTimeout(300); // let the replication rows of the second write arrive before the picture is taken
  await page.screenshot({ path: resolve(ARTIFACTS, 'vizor.png') });

  // Kill a follower (not the node serving the page): the page shows it unreachable.
  const victim = followers.find((id) => id !== 'v1') ?? followers[0]!;
  await cluster.kill(victim);
  await page.locator(`.node-card[data-node="${victim}"][data-reachable="false"]`).waitFor({ timeout: 15_000 });
  await page.locator(`#events-head th[data-node="${victim}"][data-reachable="false"]`).waitFor({ timeout: 15_000 });
  await page.screenshot({ path: resolve(ARTIFACTS, 'vizor-node-down.png') });

  // It comes back: the page reconnects and shows it reachable again.
  await cluster.startNode(victim);
  await page.locator(`.node-card[data-node="${victim}"][data-reachable="true"]`).waitFor({ timeout: 20_000 });
});
