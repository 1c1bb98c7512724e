// graftd vizor: the merged timeline's logic, without any DOM (node's test runner imports it too).
//
// Why a reorder window: each node's stream arrives in batches (one frame per node every ~100 ms),
// so appending rows as frames arrive interleaves whole batches, not events. Events wait in a
// buffer until they are older than the window, then leave in time order; a straggler older than
// what already left is still placed at its time by the page (counted as "late"). Times are put
// on the browser's clock first: each node's clock offset is estimated from status round trips
// (NTP's estimate: the answer was stamped mid-way; the sample with the smallest round trip
// wins) and applied only when it is larger than its own uncertainty. A received message is
// never shown before its send: pairing (same link, same RPC fields, first in first out as on the
// link's TCP connection) moves a receive that would precede its send to just after it.

/** Per-node clock offsets (node clock − browser clock, ms). */
export class ClockEstimator {
  constructor(maxSamples = 20) {
    this.maxSamples = maxSamples;
    /** node -> [{ offset, err }] */
    this.samples = new Map();
  }

  /** One estimate: `offset` with uncertainty ±`err` (half the round trip). */
  add(node, offset, err) {
    if (!Number.isFinite(offset) || !Number.isFinite(err) || err < 0) return;
    const list = this.samples.get(node) ?? [];
    list.push({ offset, err });
    if (list.length > this.maxSamples) list.shift();
    this.samples.set(node, list);
  }

  /** { offset, err, applied } for `node`; applied is the offset used (0 while within the noise). */
  get(node) {
    const list = this.samples.get(node);
    if (list === undefined || list.length === 0) return { offset: 0, err: Number.POSITIVE_INFINITY, applied: 0 };
    let best = list[0];
    for (const s of list) if (s.err < best.err) best = s;
    return { offset: best.offset, err: best.err, applied: Math.abs(best.offset) > best.err ? best.offset : 0 };
  }
}

/** The fields a send and its receive share. */
export function pairKey(e) {
  return [e.from, e.to, e.rpc, e.resp ? 1 : 0, e.term, e.index ?? '', e.entries ?? '', e.commit ?? '', e.success ?? ''].join('|');
}

/** Order of two timeline events: time, then node, then sequence. */
export function compareEvents(a, b) {
  return a.st - b.st || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || a.seq - b.seq;
}

/** Index at which `e` goes in `sorted` (ascending by compareEvents). */
export function insertionIndex(sorted, e) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareEvents(sorted[mid], e) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** An unmatched send this much older than an identical receive is taken as lost (ms). */
const LOST_AFTER_MS = 2000;
/**
 * How far a receive may precede its send on the corrected clocks and still pair (ms): processes
 * started at different times disagree by a few ms (each reads the wall clock once at start), and
 * an offset smaller than its uncertainty is not applied.
 */
const PAIR_SLACK_MS = 50;
/** Unmatched halves kept per key, and keys kept. */
const MAX_PER_KEY = 32;
const MAX_KEYS = 4000;

export class Timeline {
  /** windowMs: the reorder window. */
  constructor({ windowMs = 300, maxPending = 20000 } = {}) {
    this.windowMs = windowMs;
    this.maxPending = maxPending;
    this.pending = [];
    this.lastReleased = null;
    this.late = 0;
    this.byId = new Map();
    this.sends = new Map();
    this.recvs = new Map();
  }

  /**
   * Take one raw event of `node` (as the hub sent it) with that node's applied clock offset.
   * Returns the events whose pairing changed (both halves), so the page can mark them.
   */
  add(raw, offsetMs) {
    const e = { ...raw, id: `${raw.node}:${raw.seq}`, st: raw.t - offsetMs, pair: null };
    if (this.pending.length >= this.maxPending) this.pending.shift();
    this.pending.push(e);
    this.#remember(e);
    return this.#pairUp(e);
  }

  /** Add an already-corrected event (replays): its `st` is kept. */
  addCorrected(e) {
    const ev = { ...e, id: e.id ?? `${e.node}:${e.seq}`, pair: e.pair ?? null };
    this.pending.push(ev);
    this.#remember(ev);
    if (ev.kind === 'send' || ev.kind === 'recv') this.#pairUp(ev);
    return ev;
  }

  /** Events older than the window (all of them with `flush`), in order; each marked `late` if older than one already released. */
  release(nowMs, flush = false) {
    const cut = flush ? Number.POSITIVE_INFINITY : nowMs - this.windowMs;
    const out = [];
    const keep = [];
    for (const e of this.pending) (e.st <= cut ? out : keep).push(e);
    this.pending = keep;
    out.sort(compareEvents);
    for (const e of out) {
      e.late = this.lastReleased !== null && compareEvents(e, this.lastReleased) < 0;
      if (e.late) this.late += 1;
      else this.lastReleased = e;
    }
    return out;
  }

  get(id) {
    return this.byId.get(id);
  }

  #remember(e) {
    this.byId.set(e.id, e);
    if (this.byId.size > MAX_KEYS * 4) {
      const first = this.byId.keys().next().value;
      this.byId.delete(first);
    }
  }

  #pairUp(e) {
    if (e.kind !== 'send' && e.kind !== 'recv') return [];
    if (e.detail?.startsWith('dropped')) return [];
    const key = pairKey(e);
    if (e.kind === 'recv') {
      const sends = this.sends.get(key);
      // One TCP connection per link delivers in order: the oldest unmatched identical send is this
      // one's, except sends far older than the receive (their connection died with them).
      while (sends && sends.length > 0 && sends[0].st < e.st - LOST_AFTER_MS) sends.shift();
      if (!sends || sends.length === 0 || sends[0].st > e.st + PAIR_SLACK_MS) {
        push(this.recvs, key, e);
        return [];
      }
      return link(sends.shift(), e);
    }
    const recvs = this.recvs.get(key);
    if (recvs) {
      const i = recvs.findIndex((r) => r.st + PAIR_SLACK_MS >= e.st);
      if (i !== -1) {
        const recv = recvs.splice(i, 1)[0];
        return link(e, recv);
      }
    }
    push(this.sends, key, e);
    return [];
  }
}

function push(map, key, e) {
  let list = map.get(key);
  if (list === undefined) {
    if (map.size >= MAX_KEYS) map.delete(map.keys().next().value);
    list = [];
    map.set(key, list);
  }
  list.push(e);
  if (list.length > MAX_PER_KEY) list.shift();
}

function link(send, recv) {
  send.pair = recv.id;
  recv.pair = send.id;
  // Causality: a receive is never shown before its send.
  if (recv.st <= send.st) {
    recv.st = send.st + 0.001;
    recv.moved = true;
  }
  return [send, recv];
}
