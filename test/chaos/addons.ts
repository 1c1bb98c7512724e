/**
 * Extra checkers that run beside the register workload in a chaos run (issue 14): `watch`
 * (watch streams on every node, checked against each other and the history) and `lock`
 * (lock holders writing to a fenced register).
 *
 * Why an interface of phases rather than code in run.ts: each checker needs the same four
 * moments — load starts with the workload, load stops with it, the nodes are healed and
 * converged but still up (watchers catch up), the nodes are gone (check) — and run.ts stays a
 * list of calls instead of knowing what each checker does.
 */
import type { ChaosRun } from './run.ts';

/** The checkers a run can add. */
export const ADDON_NAMES = ['watch', 'lock'] as const;
export type AddonName = (typeof ADDON_NAMES)[number];

/** What one checker found. */
export interface AddonResult {
  readonly name: AddonName;
  /** One line per violation (empty: clean). */
  readonly violations: readonly string[];
  /** Summary lines for the report (counts). */
  readonly lines: readonly string[];
}

/** One checker's phases; every method is called at most once except `close` (idempotent). */
export interface RunAddon {
  readonly name: AddonName;
  /** Start its load / observers (the cluster has formed; the workload starts now too). */
  start(): void;
  /** Stop its load (with the workload, before healing). Observers may keep running. */
  stopLoad(): Promise<void>;
  /** After healing, convergence and the final reads, with the nodes still running. */
  settle(): Promise<void>;
  /** End everything it runs (also on a harness error). */
  close(): Promise<void>;
  /** After the nodes stopped: check, write its artifacts into the run directory. */
  check(): AddonResult;
}

/** Parse `watch,lock`. */
export function parseAddonList(text: string): AddonName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const n of names) {
    if (!(ADDON_NAMES as readonly string[]).includes(n))
      throw new RangeError(`unknown checker ${JSON.stringify(n)}; expected ${ADDON_NAMES.join(', ')}`);
  }
  return [...new Set(names)] as AddonName[];
}

/** Node env the checkers need (progress events often enough for watchers to notice a stall). */
export function addonNodeEnv(names: readonly AddonName[]): Record<string, string> {
  return names.includes('watch') ? { WATCH_PROGRESS_INTERVAL: '500', WATCH_HISTORY_REVISIONS: '200000' } : {};
}

/** Build the checkers of a run (modules loaded lazily: a plain run never loads them). */
export async function createAddons(names: readonly AddonName[], run: ChaosRun): Promise<RunAddon[]> {
  const out: RunAddon[] = [];
  for (const n of names) {
    if (n === 'watch') out.push(new (await import('./watch-recorder.ts')).WatchAddon(run));
    else out.push(new (await import('./lock-workers.ts')).LockAddon(run));
  }
  return out;
}
