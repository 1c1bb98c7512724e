/**
 * The lock checker (issue 14): judges lock holders and their writes to a fenced register.
 *
 * A holder's critical section runs from the moment it saw no lock key older than its own (the
 * answer of that read) to the moment it stopped acting as holder: its release request, or
 * earlier the end of its lease as it knew it (last acknowledged keepalive's send time + TTL — the
 * server never expires a lease before that). A later holder acquires only after every older key
 * is deleted, and a key is deleted by the release or by expiry — both after the section's end —
 * so sections must not overlap, in token order. The fenced register accepts a write only when its
 * token is ≥ the highest accepted so far, so in revision order, and in real time, accepted tokens
 * never go down; a rejected write must have seen a higher fence.
 */

/** One time a worker held the lock. */
export interface HolderRecord {
  readonly worker: number;
  readonly lease: string;
  /** The lock key's createRevision: the fencing token. */
  readonly token: number;
  readonly acquiredAt: number;
  readonly endAt: number;
  readonly endReason: string;
}

/** One write to the fenced register. */
export interface FencedWrite {
  readonly worker: number;
  readonly token: number;
  readonly call: number;
  /** Infinity when the outcome is unknown. */
  readonly ret: number;
  readonly outcome: 'accepted' | 'rejected' | 'failed' | 'unknown';
  /** The txn's revision (accepted: the revision it wrote at). */
  readonly revision?: number;
  /** Rejected: the fence value the failure branch read. */
  readonly fenceSeen?: string | null;
  /** Sent on purpose after the holder's section ended (a simulated pause: the stale holder). */
  readonly late?: boolean;
}

export interface LockCheckResult {
  readonly violations: string[];
  readonly stats: {
    readonly holders: number;
    readonly accepted: number;
    readonly rejected: number;
    readonly failed: number;
    readonly unknown: number;
    /** Holders that lost their lease while holding (section ended by the deadline). */
    readonly leaseLost: number;
    /** Holders that paused (simulated) and wrote late. */
    readonly paused: number;
    readonly late: number;
    readonly lateAccepted: number;
  };
}

const ms = (t: number): string => (Number.isFinite(t) ? `${t.toFixed(0)} ms` : '∞');

/** Check holders and fenced writes. */
export function checkLocks(holders: readonly HolderRecord[], writes: readonly FencedWrite[], maxViolations = 200): LockCheckResult {
  const violations: string[] = [];
  const bad = (m: string): void => {
    if (violations.length < maxViolations) violations.push(m);
    else if (violations.length === maxViolations) violations.push('… further violations left out');
  };
  const who = (h: HolderRecord): string => `worker ${h.worker} (token ${h.token}, ${ms(h.acquiredAt)}–${ms(h.endAt)})`;

  // Sections, in token order, must not overlap.
  const byToken = [...holders].sort((a, b) => a.token - b.token);
  let latest: HolderRecord | undefined;
  for (const h of byToken) {
    if (latest !== undefined && latest.token === h.token) bad(`two holders with token ${h.token}: ${who(latest)} and ${who(h)}`);
    else if (latest !== undefined && latest.endAt > h.acquiredAt)
      bad(`critical sections overlap: ${who(latest)} still held it when ${who(h)} acquired (${ms(h.acquiredAt)})`);
    if (latest === undefined || h.endAt > latest.endAt) latest = h;
  }

  // Every write by a holder, inside its section (a late one after it).
  const holderOf = new Map(holders.map((h) => [h.token, h]));
  for (const w of writes) {
    const h = holderOf.get(w.token);
    if (h === undefined) bad(`write with token ${w.token} at ${ms(w.call)} by worker ${w.worker}, which never held that token (harness)`);
    else if (w.call < h.acquiredAt || w.call > h.endAt !== (w.late === true))
      bad(
        `${w.late === true ? 'late ' : ''}write with token ${w.token} invoked at ${ms(w.call)} ${w.late === true ? 'inside' : 'outside'} its section ${who(h)} (harness)`,
      );
  }

  // In revision order, accepted tokens never go down; one write per revision.
  const accepted = writes.filter((w) => w.outcome === 'accepted');
  const byRev = [...accepted].sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
  let top: FencedWrite | undefined;
  for (let i = 0; i < byRev.length; i++) {
    const w = byRev[i]!;
    if (w.revision === undefined) bad(`accepted write with token ${w.token} at ${ms(w.call)} has no revision`);
    if (i > 0 && byRev[i - 1]!.revision === w.revision) bad(`two accepted writes at revision ${w.revision}`);
    if (top !== undefined && w.token < top.token)
      bad(
        `stale write accepted: token ${w.token} (worker ${w.worker}, ${ms(w.call)}–${ms(w.ret)}) at revision ${w.revision} after token ${top.token} was accepted at revision ${top.revision}`,
      );
    if (top === undefined || w.token > top.token) top = w;
  }
  // In real time too: a write invoked after a higher token was acknowledged must not be accepted.
  const acked = [...accepted].sort((a, b) => a.ret - b.ret);
  let i = 0;
  let best: FencedWrite | undefined;
  for (const w of [...accepted].sort((a, b) => a.call - b.call)) {
    while (i < acked.length && acked[i]!.ret < w.call) {
      if (best === undefined || acked[i]!.token > best.token) best = acked[i];
      i++;
    }
    if (best !== undefined && best.token > w.token)
      bad(`stale write accepted: token ${w.token} invoked at ${ms(w.call)}, after token ${best.token} was acknowledged at ${ms(best.ret)}`);
  }
  // A rejected write saw a fence above its token.
  for (const w of writes) {
    if (w.outcome !== 'rejected') continue;
    const seen = w.fenceSeen === undefined || w.fenceSeen === null ? Number.NaN : Number(w.fenceSeen);
    if (!(seen > w.token))
      bad(`write with token ${w.token} at ${ms(w.call)} was rejected although the fence read ${JSON.stringify(w.fenceSeen)}`);
  }
  return {
    violations,
    stats: {
      holders: holders.length,
      accepted: accepted.length,
      rejected: writes.filter((w) => w.outcome === 'rejected').length,
      failed: writes.filter((w) => w.outcome === 'failed').length,
      unknown: writes.filter((w) => w.outcome === 'unknown').length,
      leaseLost: holders.filter((h) => h.endReason === 'lease').length,
      paused: holders.filter((h) => h.endReason === 'paused').length,
      late: writes.filter((w) => w.late === true).length,
      lateAccepted: writes.filter((w) => w.late === true && w.outcome === 'accepted').length,
    },
  };
}
