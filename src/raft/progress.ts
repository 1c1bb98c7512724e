/**
 * The leader's view of one follower's replication progress.
 *
 * Why three states (etcd-io/raft): in `probe` the leader does not know where the follower's log
 * matches and sends one message per heartbeat until it finds out; in `replicate` it streams
 * optimistically within the inflight window; in `snapshot` the follower needs entries that were
 * compacted, so the leader sends a snapshot and waits for it to be installed.
 */
import { assert } from '../errors.ts';
import { Inflights } from './inflights.ts';
import type { ProgressState, ProgressView } from './types.ts';

export class Progress {
  /** Highest index known to match the leader's log. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Leader ticks spent in snapshot state (a snapshot never acknowledged nor reported is retried). */
  snapshotTicks = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Probe state: a message was sent and we wait for its answer (or a heartbeat answer). */
  probeSent = false;
  /** Leader clock (ms) when a response from this node last arrived (CheckQuorum). */
  lastAckAt = Number.NEGATIVE_INFINITY;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, maxInflightBytes: number, isLearner: boolean) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
    this.snapshotTicks = 0;
  }

  /** The snapshot was not installed (failed, lost or timed out): probe again from `match`. */
  snapshotFailed(): void {
    this.pendingSnapshot = 0;
    this.becomeProbe();
  }

  /** The follower acknowledged `n`; returns false when that is old news. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * The follower rejected an append at `rejected`, hinting that its log may match up to `matchHint`.
   * Returns false when the rejection is stale (answers an older probe).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Account for an append carrying `entries` entries (last index `lastIndex`) and `bytes` bytes. */
  sentEntries(entries: number, lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entries > 0) {
        assert(lastIndex >= this.next, `replicate: sent up to ${lastIndex} but next is ${this.next}`);
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** No append may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  view(): ProgressView {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      recentActive: this.recentActive,
      isLearner: this.isLearner,
      inflight: this.inflights.count,
    };
  }
}
