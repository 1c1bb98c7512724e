/**
 * Debian's chromium for the browser tests: where it is, whether it is there (CI must have it),
 * and a headless launch with the flags this machine needs (no sandbox as root, no background
 * networking: the machine's closed network refuses those connections).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
// CI installs chromium (.ci/run): there a missing browser is a failure, not a skip.
if (!haveChromium && process.env.CI === 'true')
  throw new Error(`CI=true but no chromium at ${CHROMIUM}; .ci/run must apt-get install chromium`);

/** The skip option of a browser test. */
export const skipWithoutChromium: false | string = haveChromium ? false : `no chromium at ${CHROMIUM}`;

/** Launch headless chromium; `extraArgs` e.g. --ignore-certificate-errors for a test CA. */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}
