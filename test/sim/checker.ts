/**
 * The safety invariants of Raft, checked incrementally as the simulation runs.
 *
 * Why incremental: the checks run after every simulated step of thousands of runs, so each
 * event (an append, a commit, an apply, a leader elected, a read answered) updates global
 * records in O(entries touched) instead of rescanning every log.
 *
 * Checked: election safety (one leader per term, over the whole history), log matching (an
 * (index, term) pair identifies the whole prefix), leader completeness (a new leader holds every
 * entry committed before it was elected), state machine safety (every node applies the same
 * entry at each index, snapshots included), commit monotonicity (per node, across restarts), and
 * linearizable reads (a ReadIndex answer covers every commit acknowledged before the read).
 */
import type { Entry, NodeId } from '../../src/raft/types.ts';
import { entryHash, mix32 } from './hash.ts';
import type { LogTracker } from './log-tracker.ts';

/** What went wrong. */
export type ViolationKind =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'commit-regression'
  | 'commit-rule'
  | 'stale-read'
  | 'liveness'
  /** A correct node's message was dropped by the core's admission rules (src/raft/admission.ts): the rules are too strict. */
  | 'admission'
  | 'storage'
  | 'core-error';

/** One invariant violation, with the virtual time it was detected at. */
export interface Violation {
  readonly kind: ViolationKind;
  readonly timeMs: number;
  readonly message: string;
  /** The last simulator events before the violation, oldest first. */
  readonly trace: readonly string[];
}

/** Thrown by the checker to stop the run at the first violation. */
export class ViolationError extends Error {
  constructor(
    readonly kind: ViolationKind,
    message: string,
  ) {
    super(message);
    this.name = 'ViolationError';
  }
}

const TERM_BITS = 2 ** 24;

/** Global records of a run; every method throws ViolationError when an invariant breaks. */
export class Checker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** (index, term) → prefix hash of the first log that persisted it. */
  private readonly logIds = new Map<number, number>();
  /** committedPrefix[i] = prefix hash at i of the committed log (-1 where unknown). */
  private readonly committedPrefix: number[] = [0];
  /** Highest commit index any node has persisted. */
  maxCommitted = 0;
  /** term → highest commit index persisted in a hard state of that term (for leader completeness). */
  private readonly committedInTerm = new Map<number, number>();
  /** appliedEntry[i] = entry hash applied at i; appliedBy[i] = the first node that applied it. */
  private readonly appliedEntry: number[] = [];
  private readonly appliedBy: string[] = [];
  /** appHashAt[i] = state machine hash after applying index i (from an apply or a snapshot). */
  private readonly appHashAt: number[] = [0];
  /** Outstanding reads: ctx → the commit index the answer must reach, and whether the read is lease-based. */
  private readonly reads = new Map<string, { readonly required: number; readonly lease: boolean }>();
  /** Counters for the report. */
  readsServed = 0;
  leaseReadsServed = 0;
  leadersElected = 0;

  /** Log matching, via the prefix hash of every persisted entry. */
  onPersist(node: NodeId, entry: Entry, prefix: number): void {
    if (entry.term >= TERM_BITS) throw new ViolationError('core-error', `term ${entry.term} out of the checker's range`);
    const key = entry.index * TERM_BITS + entry.term;
    const known = this.logIds.get(key);
    if (known === undefined) this.logIds.set(key, prefix);
    else if (known !== prefix) {
      throw new ViolationError(
        'log-matching',
        `${node} persisted entry (index ${entry.index}, term ${entry.term}) with a log prefix different from another node's entry with the same index and term`,
      );
    }
  }

  /** The prefix hash of (index, term) as first persisted anywhere (for snapshot installs). */
  prefixOf(index: number, term: number): number | undefined {
    if (index === 0) return 0;
    return this.logIds.get(index * TERM_BITS + term);
  }

  /** Election safety; records the leader of `term`. */
  onLeader(node: NodeId, term: number): void {
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== node) {
      throw new ViolationError('election-safety', `two leaders in term ${term}: ${other} and ${node}`);
    }
    if (other === undefined) {
      this.leaderOfTerm.set(term, node);
      this.leadersElected++;
    }
  }

  /** Leader completeness: `log` (the new leader's, after persisting) contains every entry committed up to `committed`. */
  checkLeaderLog(node: NodeId, term: number, log: LogTracker, committed: number): void {
    if (log.lastIndex < committed) {
      throw new ViolationError(
        'leader-completeness',
        `${node} became leader of term ${term} with last index ${log.lastIndex}, missing committed entries up to ${committed}`,
      );
    }
    const at = Math.max(committed, log.firstKnown);
    if (at > committed) return; // its snapshot covers everything committed then
    const want = this.committedPrefix[at];
    if (want === undefined || want === -1) return;
    if (log.hashAt(at) !== want) {
      throw new ViolationError(
        'leader-completeness',
        `${node} became leader of term ${term} with a log that differs from the committed log at or before index ${at}`,
      );
    }
  }

  /**
   * The highest index known committed in a term before `term`: what a leader of `term` must hold
   * (Raft §5.4). Entries committed in `term` or later need not be there: a stale candidate may win an
   * old term late (its votes delayed, or it stalled) after a newer leader committed more.
   */
  committedBefore(term: number): number {
    let top = 0;
    for (const [t, index] of this.committedInTerm) if (t < term && index > top) top = index;
    return top;
  }

  /**
   * A node persisted commit index `commit` over the durable log `log`, in a hard state of term `term`
   * (the entry was committed in that term or earlier): it must agree with the committed log.
   */
  onCommit(node: NodeId, commit: number, log: LogTracker, term = 0): void {
    if (commit > log.lastIndex) {
      throw new ViolationError('commit-regression', `${node} persisted commit ${commit} beyond its durable last index ${log.lastIndex}`);
    }
    const overlap = Math.min(commit, this.maxCommitted);
    if (overlap >= log.firstKnown) {
      const want = this.committedPrefix[overlap];
      if (want !== undefined && want !== -1 && log.hashAt(overlap) !== want) {
        throw new ViolationError(
          'state-machine-safety',
          `${node} committed index ${commit} but its log up to ${overlap} differs from the log committed elsewhere`,
        );
      }
    }
    for (let i = this.maxCommitted + 1; i <= commit; i++) this.committedPrefix[i] = log.hashAt(i) ?? -1;
    if (commit > this.maxCommitted) this.maxCommitted = commit;
    if (commit > (this.committedInTerm.get(term) ?? 0)) this.committedInTerm.set(term, commit);
  }

  /** State machine safety for one applied entry; returns the new application hash. */
  onApply(node: NodeId, entry: Entry, appliedBefore: number, appHash: number): number {
    if (entry.index !== appliedBefore + 1) {
      throw new ViolationError('state-machine-safety', `${node} applied index ${entry.index} right after ${appliedBefore}`);
    }
    const h = entryHash(entry);
    const seen = this.appliedEntry[entry.index];
    if (seen === undefined) {
      this.appliedEntry[entry.index] = h;
      this.appliedBy[entry.index] = node;
    } else if (seen !== h) {
      throw new ViolationError(
        'state-machine-safety',
        `${node} applied entry (index ${entry.index}, term ${entry.term}) but ${this.appliedBy[entry.index]} applied a different entry at that index`,
      );
    }
    const next = mix32(appHash, h);
    this.checkAppState(node, entry.index, next, 'apply');
    return next;
  }

  /** The state machine at `index` must be the same on every node, however it got there (apply or snapshot). */
  checkAppState(node: NodeId, index: number, appHash: number, how: string): void {
    const seen = this.appHashAt[index];
    if (seen === undefined) this.appHashAt[index] = appHash;
    else if (seen !== appHash) {
      throw new ViolationError(
        'state-machine-safety',
        `${node}'s state machine at index ${index} (after ${how}) differs from another node's`,
      );
    }
  }

  /**
   * A read was issued (sent by a client, in virtual time): its answer must be at least the highest
   * commit acknowledged so far, whatever the mode. A lease read is no weaker a promise than a safe
   * one; it only trusts clocks to keep it.
   */
  onReadIssued(ctx: string, mode: 'safe' | 'lease' = 'safe'): void {
    this.reads.set(ctx, { required: this.maxCommitted, lease: mode === 'lease' });
  }

  /** A read was answered by `node` at `index`. */
  onReadState(node: NodeId, ctx: string, index: number): void {
    const read = this.reads.get(ctx);
    if (read === undefined) return; // answered twice or issued to a crashed incarnation
    this.reads.delete(ctx);
    this.readsServed++;
    if (read.lease) this.leaseReadsServed++;
    if (index < read.required) {
      throw new ViolationError(
        'stale-read',
        `${node} answered ${read.lease ? 'lease' : 'safe'} read ${ctx} at index ${index}, but index ${read.required} was already committed and acknowledged when the read was issued`,
      );
    }
  }

  /** Forget a read that can no longer be answered (its node crashed). */
  dropRead(ctx: string): void {
    this.reads.delete(ctx);
  }
}
