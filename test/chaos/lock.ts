/**
 * A machine-wide lock on the chaos allocation (127.0.0.11–17, ports 13011–17/14011–17, the
 * GRAFTD-CHAOS chain).
 *
 * Why: two chaos runs at once (two `npm test` in different clones, or a long `npm run chaos`
 * while the tests run) would fight over the same addresses, ports and iptables chain, and each
 * would tear down the other's partitions and talk to the other's nodes. The lock is a file
 * created exclusively in the OS temp directory holding the owner's pid; a lock whose owner is
 * gone is taken over. Waiting is bounded.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Path of the lock file. */
export const LOCK_FILE = join(tmpdir(), 'graftd-chaos.lock');

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryTake(file: string): boolean {
  try {
    const fd = openSync(file, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = ownerOf(file);
    if (owner === process.pid) return true;
    if (owner === undefined || !alive(owner)) {
      rmSync(file, { force: true }); // the owner died without releasing it
      return false;
    }
    return false;
  }
}

/** Take the lock, waiting up to `timeoutMs` for another run to finish; returns the release function (idempotent, synchronous). */
export async function acquireChaosLock(timeoutMs: number, log: (line: string) => void, file: string = LOCK_FILE): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  while (!tryTake(file)) {
    if (Date.now() > deadline)
      throw new Error(`another chaos run (pid ${ownerOf(file) ?? '?'}) held ${file} for more than ${timeoutMs} ms`);
    if (!told) {
      log(`  waiting for another chaos run (pid ${ownerOf(file) ?? '?'}) to finish; they share addresses, ports and the iptables chain`);
      told = true;
    }
    await sleep(250 + Math.random() * 250);
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (ownerOf(file) === process.pid) rmSync(file, { force: true });
  };
}
