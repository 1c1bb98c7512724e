// Replay of a recorded chaos run in a real browser: the real run in fixtures/chaos-run (seed 7,
// stale-linearizable-reads, which the checker caught) opens at its violation, with the failing
// operations marked; the scrubber, play and step move through it. The page comes from one
// graftd node on 127.0.0.214 (the replay itself needs no cluster).
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Cluster } from '../integration/cluster.ts';
import { haveChromium, launchChromium, skipWithoutChromium } from './browser.ts';

const ARTIFACTS = resolve(import.meta.dirname, '../../artifacts/vizor');
const FIXTURE = resolve(import.meta.dirname, 'fixtures/chaos-run');

let cluster: Cluster;
let browser: Browser;
let page: Page;

before(async () => {
  if (!haveChromium) return;
  cluster = new Cluster({ ips: ['127.0.0.214'], httpPortBase: 19710, raftPortBase: 19720 });
  await cluster.startNode('r0');
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
});

after(async () => {
  await browser?.close();
  await cluster?.destroy();
});

test('a recorded chaos run opens at its violation and replays with the scrubber, play and step', {
  skip: skipWithoutChromium,
}, async () => {
  await page.goto(`${cluster.url('r0')}/ui`);
  await page.locator('#events-head th[data-node="r0"]').waitFor({ timeout: 15_000 });
  await page.setInputFiles(
    '#open-files',
    readdirSync(FIXTURE).map((f) => resolve(FIXTURE, f)),
  );
  await page.locator('#replay-bar').waitFor({ timeout: 10_000 });
  assert.match(String(await page.locator('#replay-title').textContent()), /seed 7/);
  // Opened at the violation: the cursor is there and the failing operations are marked.
  await page.locator('#replay-violation').waitFor();
  assert.match(String(await page.locator('#replay-violation-text').textContent()), /k21: stale read/);
  const atViolation = Number(await page.locator('#replay-time').getAttribute('data-t'));
  const bad = await page.$$eval('#events-body tr.bad', (trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.t)));
  assert.equal(bad.length, 12, 'the 6 operations of the minimal failing sub-history (invoke + completion)');
  assert.equal(Math.max(...bad), atViolation);
  assert.deepEqual(await page.$$eval('#events-head th[data-node]', (ths) => ths.map((th) => (th as HTMLElement).dataset.node)), [
    'n1',
    'n2',
    'n3',
  ]);
  // Node events from the logs and the fault window are there.
  await page.locator('#events-body tr[data-kind="role"]').first().waitFor({ state: 'attached' });
  await page.locator('#events-body tr[data-kind="fault"]').first().waitFor({ state: 'attached' });
  await page.locator('.node-card[data-role="leader"]').first().waitFor({ state: 'attached' });
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = resolve(ARTIFACTS, 'vizor-replay-chaos.png');
  await page.screenshot({ path });
  console.log(`screenshot: ${path}`);

  // Scrub back to the start: fewer rows, none after the cursor.
  await page.$eval('#replay-scrubber', (el) => {
    (el as HTMLInputElement).value = '0';
    el.dispatchEvent(new Event('input'));
  });
  const start = Number(await page.locator('#replay-time').getAttribute('data-t'));
  assert.ok(start < atViolation);
  const rows = await page.$$eval('#events-body tr', (trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.t)));
  assert.ok(rows.every((t) => t <= start));
  // Step moves to the next event; play at 10× moves on by itself.
  await page.click('#replay-step');
  const stepped = Number(await page.locator('#replay-time').getAttribute('data-t'));
  assert.ok(stepped > start);
  await page.selectOption('#replay-speed', '10');
  await page.click('#replay-play');
  await page.waitForFunction((t) => Number(document.getElementById('replay-time')?.dataset.t) > t + 1000, stepped, { timeout: 10_000 });
  await page.click('#replay-play');
  // And back to the violation with one click.
  await page.click('#replay-violation-jump');
  assert.equal(Number(await page.locator('#replay-time').getAttribute('data-t')), atViolation);
});
