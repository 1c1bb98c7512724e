/**
 * The lessor: when each lease of the key-value store runs out, and — on the leader — the expiry
 * proposals that revoke the ones that did.
 *
 * Why it lives outside the state machine: apply must be deterministic, so no clock may decide an
 * expiry there. Every node keeps a deadline per lease on its own monotonic clock, renewed whenever
 * it sees the lease's `renewedAt` (the log index of its grant or latest keepalive) change; only the
 * leader acts, by proposing `expire(id, renewedAt)`, which the state machine applies only if no
 * keepalive was applied in between. A node that becomes leader starts every lease's full TTL again,
 * so a failover never expires a lease early — it may expire late by up to the time without a leader.
 *
 * Bounds: the check runs every `intervalMs`, looks at every lease once (O(leases)), and keeps at
 * most `maxInFlight` expiry proposals outstanding; the rest wait for the next check.
 */
import type { Log } from '../log.ts';
import { encodeLeaseExpire } from '../kv/index.ts';
import type { KvApplyResult, KvStore } from '../kv/index.ts';

export interface LessorOptions {
  readonly store: KvStore;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  /** The term while this node leads, undefined otherwise. */
  readonly leaderTerm: () => number | undefined;
  readonly propose: (command: Uint8Array) => Promise<KvApplyResult>;
  readonly log: Log;
  /** At most this many expiry proposals outstanding. Default 64. */
  readonly maxInFlight?: number;
}

interface Deadline {
  renewedAt: number;
  /** Monotonic ms at which the lease runs out. */
  deadline: number;
}

export class KvLessor {
  readonly #o: LessorOptions;
  readonly #deadlines = new Map<number, Deadline>();
  readonly #inFlight = new Set<number>();
  readonly #maxInFlight: number;
  /** The term in which this node last started leading (all deadlines renewed then). */
  #ledTerm: number | undefined;
  /** Expiries this node proposed that revoked a lease (for logs and tests). */
  expired = 0;

  constructor(options: LessorOptions) {
    this.#o = options;
    this.#maxInFlight = options.maxInFlight ?? 64;
  }

  /** Look at every lease: notice renewals, renew all on a new leadership, propose the expiries due. */
  check(): void {
    const now = this.#o.now();
    const term = this.#o.leaderTerm();
    const { leases } = this.#o.store;
    const newLeadership = term !== undefined && term !== this.#ledTerm;
    this.#ledTerm = term;
    for (const lease of leases.values()) {
      const d = this.#deadlines.get(lease.id);
      if (d === undefined || newLeadership || d.renewedAt !== lease.renewedAt) {
        this.#deadlines.set(lease.id, { renewedAt: lease.renewedAt, deadline: now + lease.ttl * 1000 });
      }
    }
    if (this.#deadlines.size > leases.size) for (const id of this.#deadlines.keys()) if (!leases.has(id)) this.#deadlines.delete(id);
    if (term === undefined) return;
    for (const [id, d] of this.#deadlines) {
      if (d.deadline > now || this.#inFlight.has(id)) continue;
      if (this.#inFlight.size >= this.#maxInFlight) break;
      this.#expire(id, d.renewedAt);
    }
  }

  /** Seconds until `id` runs out as this node's clock sees it (0 when overdue); undefined when not tracked yet. */
  remaining(id: number): number | undefined {
    const d = this.#deadlines.get(id);
    if (d === undefined) return undefined;
    return Math.max(0, Math.round(d.deadline - this.#o.now()) / 1000);
  }

  #expire(id: number, renewedAt: number): void {
    this.#inFlight.add(id);
    this.#o
      .propose(encodeLeaseExpire(id, renewedAt))
      .then((result) => {
        if (result.expired === true) {
          this.expired++;
          this.#o.log.info({ lease: id.toString(16), deleted: result.deleted, revision: result.revision }, 'lease expired');
        }
      })
      .catch((err: unknown) => {
        // Not leader any more, a timeout, shutting down: the next leader (or the next check) decides again.
        this.#o.log.debug({ lease: id.toString(16), err: err instanceof Error ? err.message : String(err) }, 'lease expiry not applied');
      })
      .finally(() => this.#inFlight.delete(id));
  }
}
