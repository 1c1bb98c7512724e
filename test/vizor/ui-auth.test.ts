// The live view with an auth file, in a real browser (headless Debian chromium): the page shows
// its login form, then uses Authorization on its fetches and the credential subprotocol on its
// event stream. In-process servers around fake nodes; skipped only when chromium is missing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { vizorPlugin } from '../../src/vizor/plugin.ts';
import { FakeNode } from '../http/fake-node.ts';
import { makeServer } from '../http/helpers.ts';
import { makeAuthFixture, security } from '../http/security-helpers.ts';
import type { AuthFixture } from '../http/security-helpers.ts';
import { haveChromium, launchChromium, skipWithoutChromium } from './browser.ts';

const base = 'http://127.0.0.56:18097';
let fx: AuthFixture;
let app: FastifyInstance;
let node: FakeNode;
let browser: Browser;

before(async () => {
  if (!haveChromium) return;
  fx = await makeAuthFixture();
  node = new FakeNode({ id: 'node0' });
  const status = node.status.bind(node);
  node.status = () => ({ ...status(), httpAddr: '127.0.0.56:18097' }); // where the page opens its event stream
  ({ app } = await makeServer(node, { security: security({ authFile: fx.file }), plugins: [vizorPlugin(node)] }));
  await app.listen({ host: '127.0.0.56', port: 18097 });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await app?.close();
  fx?.cleanup();
});

test('auth mode: login form, then status, event stream and key form work with the credentials', {
  skip: skipWithoutChromium,
}, async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/ui`);
  await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
  // Wrong password: the form stays, with a message.
  await page.fill('#login-user', 'admin');
  await page.fill('#login-password', 'wrong');
  await page.click('#login-submit');
  await page.waitForFunction(() => (document.getElementById('login-error')?.textContent ?? '').includes('wrong'), undefined, {
    timeout: 10_000,
  });
  await page.fill('#login-user', 'admin');
  await page.fill('#login-password', 'admin-pw');
  await page.click('#login-submit');
  await page.locator('.node-card[data-node="node0"][data-reachable="true"]').waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => document.getElementById('stream-state')?.textContent?.startsWith('1/1'), undefined, { timeout: 10_000 });
  await page.fill('#kv-key', 'browser-key');
  await page.fill('#kv-value', 'with auth');
  await page.click('#kv-write');
  await page.waitForFunction(() => document.getElementById('kv-result')?.dataset.status === '200', undefined, { timeout: 10_000 });
  assert.equal(node.data.get('browser-key'), 'with auth');
  // A reload keeps the session (sessionStorage): no form.
  await page.reload();
  await page.locator('.node-card[data-node="node0"][data-reachable="true"]').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('#login-form').isHidden(), true);
  await page.close();
});
