/**
 * Noticing that this node was removed from the cluster.
 *
 * Why a grace period: a node looks removed when it was a member, is not one in the applied
 * configuration, and has applied everything it knows to be committed. It is declared removed only
 * if that still holds a grace period later: a node catching up on history in which its id was
 * removed and then re-added (same id, new address) sees the re-add within that time. Kept apart
 * from the runtime, which only reacts to the verdict (stop, REMOVED marker, fail requests).
 */
import { type Log, errFields } from '../log.ts';
import { writeRemovedMarker } from './data-dir.ts';

/** How long (in election timeouts) a node must stay out of the configuration before it considers itself removed. */
export const REMOVAL_GRACE_ELECTION_TIMEOUTS = 2;

/** What the watch looks at, read when it is asked. */
export interface RemovalInputs {
  /** This node is a voter or learner in the applied configuration. */
  readonly isMember: boolean;
  readonly applied: number;
  readonly commit: number;
}

/** Tracks whether this node was ever a member and since when it looks removed. */
export class RemovalWatch {
  readonly #graceMs: number;
  readonly #log: Log;
  #wasMember: boolean;
  #since: number | undefined;

  constructor(options: { readonly electionTimeoutMs: number; readonly log: Log; readonly isMemberNow: boolean }) {
    this.#graceMs = REMOVAL_GRACE_ELECTION_TIMEOUTS * options.electionTimeoutMs;
    this.#log = options.log;
    this.#wasMember = options.isMemberNow;
  }

  /** True while the node looks removed and the grace period runs (the runtime re-checks on its tick). */
  get pending(): boolean {
    return this.#since !== undefined;
  }

  /** Check now; true when the node is removed (it looked removed for the whole grace period). */
  check(now: number, s: RemovalInputs): boolean {
    if (s.isMember) this.#wasMember = true;
    const looksRemoved = this.#wasMember && !s.isMember && s.applied >= s.commit;
    if (!looksRemoved) {
      this.#since = undefined;
      return false;
    }
    if (this.#since === undefined) {
      this.#since = now;
      this.#log.info({ applied: s.applied }, 'this node is no longer in the applied configuration; waiting to see whether it is re-added');
      return false;
    }
    return now - this.#since >= this.#graceMs;
  }
}

/** Leave the REMOVED marker in the data directory ('' = none, tests) so that a restart refuses to run; a failure is logged. */
export function recordRemoval(dataDir: string, id: string, applied: number, log: Log): void {
  log.warn({ applied }, 'this node was removed from the cluster; it no longer takes part (wipe its data directory to rejoin)');
  if (dataDir === '') return;
  try {
    writeRemovedMarker(dataDir, { id, index: applied });
  } catch (err) {
    log.error(errFields(err), 'could not write the REMOVED marker');
  }
}
