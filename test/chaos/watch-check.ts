/**
 * The watch checker (issue 14): judges the recorded watch streams of a chaos run on their own,
 * against each other, and against the run's register history.
 *
 * Per stream (one watcher, across all its reconnects): changes of one revision come together and
 * carry that revision as modRevision, the `id:` closes a revision and names it, revisions strictly
 * increase (no duplicate, no reordering), a reconnect resumes right after the last complete
 * revision, and — `dense` streams, whose prefix covers every key written, see every revision —
 * no revision is skipped (neither by a later change nor by a progress event claiming it). Every
 * stream must have reached `target` (the cluster's revision after healing).
 * Across streams: every revision delivered by several streams has the same changes; a revision
 * some stream delivered is delivered by every stream whose coverage includes it; per key, the
 * metadata chains (version, createRevision, prevValue) follow from the previous change.
 * Against the history (values written are unique): every put of a key the history knows was
 * written by an invocation that did not fail; every acknowledged write appears, once; if write A
 * was acknowledged before write B was invoked, A's revision is lower; every ok read and delete
 * saw the key as it was at some revision between the writes acknowledged before it started and
 * the writes invoked after it ended.
 */
import type { HistoryEvent } from '../../src/check/history.ts';

/** A change as the stream carries it. */
export interface WatchChange {
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value?: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly prevValue?: string;
}

/** One record of a watcher's stream, in the order it happened. */
export type StreamRecord =
  | { readonly t: 'connect'; readonly time: number; readonly node: string; readonly after: number }
  | { readonly t: 'change'; readonly time: number; readonly id?: number; readonly change: WatchChange }
  | { readonly t: 'progress'; readonly time: number; readonly revision: number }
  | { readonly t: 'end'; readonly time: number; readonly reason: string }
  /** The harness gave up revisions up to `to` (every node had compacted them): a coverage hole, not a violation. */
  | { readonly t: 'skip'; readonly time: number; readonly to: number };

export interface WatchCheckOptions {
  /** The streams' prefix covers every key written: every revision must appear in every stream. */
  readonly dense: boolean;
  /** Every stream must have completed at least this revision (undefined: not checked). */
  readonly target?: number;
  /** At most this many violation lines (default 200). */
  readonly maxViolations?: number;
}

export interface WatchCheckResult {
  readonly violations: string[];
  readonly stats: {
    readonly streams: number;
    readonly reconnects: number;
    readonly revisions: number;
    readonly changes: number;
    readonly ackedWrites: number;
    readonly writesFound: number;
    readonly readsChecked: number;
    readonly undecided: number;
    readonly holes: number;
  };
}

/** What one stream delivered: complete revisions and the ranges it covered. */
interface StreamView {
  readonly name: string;
  readonly revisions: Map<number, WatchChange[]>;
  /** Covered ranges [from, to] (inclusive), in order. */
  readonly covered: [number, number][];
  last: number;
}

const canon = (cs: readonly WatchChange[]): string =>
  JSON.stringify(cs.map((c) => [c.type, c.key, c.value ?? null, c.createRevision, c.modRevision, c.version, c.prevValue ?? null]));

function describeChange(c: WatchChange): string {
  return `${c.type} ${c.key}${c.type === 'put' ? `=${JSON.stringify(c.value)}` : ''} @${c.modRevision}`;
}

/** Walk one stream; push its own violations. */
function walkStream(name: string, records: readonly StreamRecord[], o: WatchCheckOptions, bad: (m: string) => void): StreamView {
  const view: StreamView = { name, revisions: new Map(), covered: [], last: 0 };
  let pending: WatchChange[] = [];
  /** Changes of an unfinished revision when a connection broke: the redelivery must start with them. */
  let cut: WatchChange[] = [];
  let coverFrom = 1;
  const closeCover = (): void => {
    if (view.last >= coverFrom) view.covered.push([coverFrom, view.last]);
  };
  const advance = (rev: number, how: string, time: number): void => {
    if (rev <= view.last) {
      bad(`${name}: ${how} revision ${rev} at ${time.toFixed(0)} ms after revision ${view.last} was complete (duplicate or reordered)`);
      return;
    }
    // Dense: every revision has changes, so a change must be the next revision and a progress
    // event may only confirm the last one delivered (anything beyond was skipped).
    const skippedTo = how === 'delivered' ? rev - 1 : rev;
    if (o.dense && skippedTo > view.last) {
      const gap = skippedTo === view.last + 1 ? `${view.last + 1}` : `${view.last + 1}–${skippedTo}`;
      bad(`${name}: ${how} revision ${rev} at ${time.toFixed(0)} ms but revision(s) ${gap} never came (gap)`);
    }
    view.last = rev;
  };
  for (const r of records) {
    if (r.t === 'connect') {
      if (r.after !== view.last)
        bad(`${name}: reconnect to ${r.node} resumed after ${r.after}, but the last complete revision was ${view.last}`);
      if (pending.length > 0) cut = pending;
      pending = [];
      continue;
    }
    if (r.t === 'end') {
      if (pending.length > 0) cut = pending;
      pending = [];
      continue;
    }
    if (r.t === 'skip') {
      closeCover();
      view.last = Math.max(view.last, r.to);
      coverFrom = view.last + 1;
      continue;
    }
    if (r.t === 'progress') {
      if (pending.length > 0) bad(`${name}: progress ${r.revision} in the middle of revision ${pending[0]!.modRevision}`);
      pending = [];
      if (r.revision < view.last) bad(`${name}: progress ${r.revision} goes back (revision ${view.last} was complete)`);
      else if (r.revision > view.last) advance(r.revision, 'progress claims', r.time);
      continue;
    }
    const c = r.change;
    const rev = c.modRevision;
    if (pending.length > 0 && pending[0]!.modRevision !== rev) {
      bad(
        `${name}: revision ${pending[0]!.modRevision} has no id: line but ${describeChange(c)} follows (changes of one revision not together)`,
      );
      pending = [];
    }
    pending.push(c);
    if (r.id === undefined) continue;
    if (r.id !== rev) bad(`${name}: id ${r.id} on ${describeChange(c)} (the id must be the change's revision)`);
    const group = pending;
    pending = [];
    if (cut.length > 0) {
      if (cut[0]!.modRevision === rev && canon(group.slice(0, cut.length)) !== canon(cut))
        bad(`${name}: revision ${rev} redelivered after a reconnect differs from its first part: ${cut.map(describeChange).join(', ')}`);
      cut = [];
    }
    const before = view.last;
    advance(rev, 'delivered', r.time);
    if (rev > before) view.revisions.set(rev, group);
  }
  closeCover();
  if (o.target !== undefined && view.last < o.target)
    bad(`${name}: stream ended at revision ${view.last}, below the cluster's revision ${o.target} after healing`);
  return view;
}

const covers = (v: StreamView, rev: number): boolean => v.covered.some(([a, b]) => a <= rev && rev <= b);

interface Located {
  readonly key: string;
  readonly value: string;
  readonly call: number;
  readonly ret: number;
  readonly rev: number;
}

/** Check the streams (watcher name → records) against each other and the history. */
export function checkWatch(
  streams: ReadonlyMap<string, readonly StreamRecord[]>,
  history: readonly HistoryEvent[],
  options: WatchCheckOptions,
): WatchCheckResult {
  const max = options.maxViolations ?? 200;
  const violations: string[] = [];
  const bad = (m: string): void => {
    if (violations.length < max) violations.push(m);
    else if (violations.length === max) violations.push('… further violations left out');
  };
  const views = [...streams].map(([name, recs]) => walkStream(name, recs, options, bad));
  let reconnects = 0;
  for (const recs of streams.values()) reconnects += Math.max(0, recs.filter((r) => r.t === 'connect').length - 1);

  // Agreement between streams, and the union timeline.
  const union = new Map<number, { changes: WatchChange[]; from: string }>();
  for (const v of views) {
    for (const [rev, cs] of v.revisions) {
      const seen = union.get(rev);
      if (seen === undefined) union.set(rev, { changes: cs, from: v.name });
      else if (canon(seen.changes) !== canon(cs))
        bad(
          `revision ${rev}: ${seen.from} got [${seen.changes.map(describeChange).join(', ')}] but ${v.name} got [${cs.map(describeChange).join(', ')}]`,
        );
    }
  }
  const revs = [...union.keys()].sort((a, b) => a - b);
  for (const v of views) {
    const missing = revs.filter((r) => covers(v, r) && !v.revisions.has(r));
    if (missing.length > 0)
      bad(
        `${v.name}: revision(s) ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ' …' : ''} delivered to other streams are missing in its covered range`,
      );
  }
  // Revisions no stream covered: the union timeline has holes there.
  const top = Math.max(0, ...views.map((v) => v.last));
  const coveredByAny = (rev: number): boolean => views.some((v) => covers(v, rev));
  const holes: [number, number][] = [];
  for (let r = 1; r <= top; r++) {
    if (coveredByAny(r)) continue;
    const start = r;
    while (r + 1 <= top && !coveredByAny(r + 1)) r++;
    holes.push([start, r]);
  }
  const inHole = (a: number, b: number): boolean => holes.some(([x, y]) => x <= b && a <= y);

  // Per-key chains: version, createRevision, prevValue (known only from revision 1 or since the last hole).
  const state = new Map<string, { value: string; createRevision: number; version: number } | null>();
  const timeline = new Map<string, { rev: number; value: string | null }[]>();
  let holeIdx = 0;
  let changes = 0;
  let afterHole = false;
  for (const rev of revs) {
    while (holeIdx < holes.length && holes[holeIdx]![1] < rev) {
      state.clear();
      afterHole = true;
      holeIdx++;
    }
    for (const c of union.get(rev)!.changes) {
      changes++;
      let list = timeline.get(c.key);
      if (list === undefined) {
        list = [];
        timeline.set(c.key, list);
      }
      list.push({ rev, value: c.type === 'put' ? (c.value ?? '') : null });
      // The store starts empty: before any hole an unseen key is absent; after one it is unknown.
      const known = state.has(c.key) ? state.get(c.key)! : afterHole ? undefined : null;
      if (known !== undefined) {
        const prevValue = known?.value;
        if (c.prevValue !== prevValue && !(c.prevValue === undefined && prevValue === undefined))
          bad(
            `revision ${rev}: ${describeChange(c)} has prevValue ${JSON.stringify(c.prevValue)} but the key was ${JSON.stringify(prevValue)}`,
          );
        if (c.type === 'put') {
          const version = (known?.version ?? 0) + 1;
          const create = known === null ? rev : known.createRevision;
          if (c.version !== version || c.createRevision !== create)
            bad(
              `revision ${rev}: ${describeChange(c)} has version ${c.version}, createRevision ${c.createRevision}; expected ${version}, ${create}`,
            );
        } else if (known === null) bad(`revision ${rev}: ${describeChange(c)} deletes a key that did not exist`);
      }
      state.set(c.key, c.type === 'put' ? { value: c.value ?? '', createRevision: c.createRevision, version: c.version } : null);
    }
  }

  // The history: pair operations per process.
  interface Op {
    op: HistoryEvent['op'];
    key: string;
    value: string | null;
    call: number;
    ret: number;
    status: 'ok' | 'fail' | 'info';
    out: string | null;
  }
  const ops: Op[] = [];
  const open = new Map<number, HistoryEvent>();
  for (const e of history) {
    if (e.type === 'invoke') {
      open.set(e.process, e);
      continue;
    }
    const inv = open.get(e.process);
    if (inv === undefined) continue;
    open.delete(e.process);
    ops.push({
      op: inv.op,
      key: inv.key,
      value: inv.value,
      call: inv.time,
      ret: e.type === 'ok' ? e.time : Number.POSITIVE_INFINITY,
      status: e.type,
      out: e.value,
    });
  }
  for (const inv of open.values())
    ops.push({ op: inv.op, key: inv.key, value: inv.value, call: inv.time, ret: Number.POSITIVE_INFINITY, status: 'info', out: null });
  const historyKeys = new Set(ops.map((o) => o.key));

  // Where each written value appeared.
  const putAt = new Map<string, number[]>();
  for (const rev of revs) {
    for (const c of union.get(rev)!.changes) {
      if (c.type !== 'put' || !historyKeys.has(c.key)) continue;
      const id = `${c.key}\0${c.value}`;
      const list = putAt.get(id);
      if (list === undefined) putAt.set(id, [rev]);
      else list.push(rev);
    }
  }
  const writes = ops.filter((o) => o.op === 'write');
  const byValue = new Map(writes.map((w) => [`${w.key}\0${w.value}`, w]));
  for (const [id, at] of putAt) {
    const [key, value] = id.split('\0') as [string, string];
    const w = byValue.get(id);
    if (w === undefined) bad(`revision ${at[0]}: put ${key}=${JSON.stringify(value)} that no client wrote`);
    else if (w.status === 'fail') bad(`revision ${at[0]}: put ${key}=${JSON.stringify(value)} by a write that failed (provably no effect)`);
    if (at.length > 1) bad(`put ${key}=${JSON.stringify(value)} appears at revisions ${at.join(', ')} (written once)`);
  }
  const located: Located[] = [];
  for (const w of writes) {
    const at = putAt.get(`${w.key}\0${w.value}`);
    if (at !== undefined && w.status !== 'fail') located.push({ key: w.key, value: w.value ?? '', call: w.call, ret: w.ret, rev: at[0]! });
  }
  // Real-time order: the highest revision acknowledged before each instant.
  const acked = located.filter((l) => Number.isFinite(l.ret)).sort((a, b) => a.ret - b.ret);
  const prefixMax: number[] = [];
  for (const l of acked) prefixMax.push(Math.max(prefixMax.at(-1) ?? 0, l.rev));
  const ackedBefore = (t: number): number => {
    let lo = 0;
    let hi = acked.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (acked[mid]!.ret < t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : prefixMax[lo - 1]!;
  };
  const byCall = [...located].sort((a, b) => a.call - b.call);
  const suffixMin: number[] = new Array(byCall.length);
  for (let i = byCall.length - 1; i >= 0; i--) suffixMin[i] = Math.min(suffixMin[i + 1] ?? Number.POSITIVE_INFINITY, byCall[i]!.rev);
  const invokedAfter = (t: number): number => {
    let lo = 0;
    let hi = byCall.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (byCall[mid]!.call <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo < byCall.length ? suffixMin[lo]! : Number.POSITIVE_INFINITY;
  };
  for (const l of located) {
    const before = ackedBefore(l.call);
    if (before >= l.rev) {
      const first = acked.find((a) => a.ret < l.call && a.rev >= l.rev)!;
      bad(
        `write ${l.key}=${JSON.stringify(l.value)} invoked at ${l.call.toFixed(0)} ms is at revision ${l.rev}, but ${first.key}=${JSON.stringify(first.value)} acknowledged earlier (${first.ret.toFixed(0)} ms) is at revision ${first.rev}`,
      );
    }
  }
  // Every acknowledged write must appear when its possible revisions were covered.
  let undecided = 0;
  let ackedWrites = 0;
  const topKnown = revs.at(-1) ?? 0;
  for (const w of writes) {
    if (w.status !== 'ok') continue;
    ackedWrites++;
    if (putAt.has(`${w.key}\0${w.value}`)) continue;
    const lo = ackedBefore(w.call) + 1;
    const hi = Math.min(invokedAfter(w.ret) - 1, Math.max(top, topKnown));
    if (!inHole(lo, hi) && (options.target === undefined || top >= options.target))
      bad(
        `acknowledged write ${w.key}=${JSON.stringify(w.value)} (${w.call.toFixed(0)}–${w.ret.toFixed(0)} ms) is in no stream (revisions ${lo}–${hi} were covered)`,
      );
    else undecided++;
  }
  // Reads and deletes: the key's value at some revision in [acked before call, invoked after return).
  const valueAt = (key: string, rev: number): string | null => {
    const list = timeline.get(key);
    if (list === undefined) return null;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.rev <= rev) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? null : list[lo - 1]!.value;
  };
  let readsChecked = 0;
  for (const o of ops) {
    if (o.status !== 'ok' || o.op === 'write') continue;
    const want = o.op === 'read' ? o.out : null;
    const lo = ackedBefore(o.call);
    const hi = Math.min(invokedAfter(o.ret) - 1, top);
    if (lo > hi || inHole(1, hi)) {
      undecided++;
      continue;
    }
    readsChecked++;
    let ok = valueAt(o.key, lo) === want;
    for (const ch of timeline.get(o.key) ?? []) {
      if (ok || ch.rev > hi) break;
      if (ch.rev > lo && ch.value === want) ok = true;
    }
    if (!ok)
      bad(
        `${o.op} of ${o.key} (${o.call.toFixed(0)}–${o.ret.toFixed(0)} ms) ${o.op === 'read' ? `returned ${JSON.stringify(want)}` : 'succeeded'}, but the streams never have ${o.key}=${JSON.stringify(want)} between revision ${lo} (acknowledged before it) and ${hi} (before writes invoked after it)`,
      );
  }
  return {
    violations,
    stats: {
      streams: views.length,
      reconnects,
      revisions: revs.length,
      changes,
      ackedWrites,
      writesFound: located.length,
      readsChecked,
      undecided,
      holes: holes.length,
    },
  };
}
