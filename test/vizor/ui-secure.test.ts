// The live view in secure mode (TLS + cluster secret + users), in a real browser: the page asks
// for credentials, then streams every member's events over wss:// and writes through the form.
// Skipped only when no chromium binary is installed (CI installs it).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { SecureCluster } from '../integration/secure-cluster.ts';
import { haveChromium, launchChromium, skipWithoutChromium } from './browser.ts';

const c = new SecureCluster(['w0', 'w1', 'w2'], 65, 19700, 19800);
let browser: Browser;
let page: Page;

before(async () => {
  if (!haveChromium) return;
  await c.prepare();
  await c.startVoters(['w0', 'w1', 'w2']);
  // The test CA is not in the browser's store; the certificates themselves are verified by the nodes.
  browser = await launchChromium(['--ignore-certificate-errors']);
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  if (haveChromium) await c.destroy();
});

test('secure live view: login, three wss streams, a write replicates', {
  skip: skipWithoutChromium,
}, async () => {
  const leader = (await c.status('w0'))?.leaderId ?? '';
  const followers = ['w0', 'w1', 'w2'].filter((id) => id !== leader);
  await page.goto(`https://${c.info('w1').httpAddr}/ui`);

  // Without credentials nothing streams: the login form is shown.
  await page.locator('#login-form').waitFor({ state: 'visible', timeout: 15_000 });
  await page.fill('#login-user', 'admin');
  await page.fill('#login-password', 'not-the-password');
  await page.press('#login-password', 'Enter');
  await page.locator('#login-form').waitFor({ state: 'visible', timeout: 15_000 });

  await page.fill('#login-user', 'admin');
  await page.fill('#login-password', c.material.password);
  await page.press('#login-password', 'Enter');

  for (const id of ['w0', 'w1', 'w2']) await page.locator(`#events-head th[data-node="${id}"]`).waitFor({ timeout: 15_000 });
  await page.waitForFunction(() => document.getElementById('stream-state')?.textContent?.startsWith('3/3'), undefined, { timeout: 20_000 });
  await page.locator(`.node-card[data-node="${leader}"][data-role="leader"]`).waitFor({ timeout: 15_000 });

  await page.fill('#kv-key', 'secure-vizor');
  await page.fill('#kv-value', 'over tls');
  await page.click('#kv-write');
  await page.waitForFunction(() => document.getElementById('kv-result')?.dataset.status === '200', undefined, { timeout: 15_000 });
  for (const id of followers) {
    await page
      .locator(`#events-body tr[data-node="${id}"][data-kind="recv"][data-rpc="AppendEntries"]:not([data-entries="0"])`)
      .first()
      .waitFor({ state: 'attached', timeout: 15_000 });
  }
  const r = await c.call(followers[0]!, '/key/secure-vizor?level=stale');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), { 'secure-vizor': 'over tls' });
});
