/**
 * Linearizability search for one key's operations: Wing & Gong's backtracking over the order of
 * call/return events, with Lowe's memoization of (set of linearized operations, model state).
 *
 * Why this algorithm: it explores only orders that respect real time (an operation may be
 * linearized only while no pending operation has already returned), and the memo cache prunes
 * every configuration reached twice, which is what makes multi-thousand-operation histories
 * tractable. Operations with an unknown outcome have no return event, so they may be linearized
 * anywhere after their call, or never (the search succeeds once every acknowledged operation is
 * linearized); placing one where it would change nothing is never tried (leaving it out is as
 * good, and it stays available for later). The search is bounded by a deadline and by the cache
 * size; hitting either is reported as `timeout`, never as a pass.
 */
import { assert } from '../errors.ts';
import type { Operation } from './history.ts';
import type { Model } from './model.ts';

/** Bounds for one search. */
export interface SearchOptions {
  /** Give up (result `timeout`) after this many milliseconds. */
  readonly timeoutMs: number;
  /** Give up (result `timeout`) once the memo cache holds this many configurations. */
  readonly maxCacheEntries?: number;
}

export type SearchResult =
  | { readonly kind: 'ok'; readonly order: readonly Operation[] }
  | {
      readonly kind: 'fail';
      /** The longest sequence of operations the search managed to linearize before every branch died. */
      readonly longestPrefix: readonly Operation[];
      /** Acknowledged operations that could not be placed after that prefix. */
      readonly stuck: readonly Operation[];
    }
  | { readonly kind: 'timeout'; readonly explored: number };

const DEFAULT_MAX_CACHE_ENTRIES = 4_000_000;

/** Check whether `ops` (all of one key) are linearizable with respect to `model`. */
export function searchLinearizable<S>(ops: readonly Operation[], model: Model<S>, options: SearchOptions): SearchResult {
  const n = ops.length;
  const deadline = performance.now() + options.timeoutMs;
  const maxCache = options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES;

  // Events: one call per op, one return per acknowledged op. Sorted by time; at equal times calls
  // come first, which treats touching operations as concurrent (the lenient, sound choice).
  const evOp: number[] = [];
  const evIsCall: boolean[] = [];
  const evTime: number[] = [];
  for (let i = 0; i < n; i++) {
    const o = ops[i]!;
    evOp.push(i);
    evIsCall.push(true);
    evTime.push(o.call);
    if (o.status === 'ok') {
      assert(o.ret >= o.call, `operation ${o.id} returns (${o.ret}) before it is called (${o.call})`);
      evOp.push(i);
      evIsCall.push(false);
      evTime.push(o.ret);
    }
  }
  const order = evOp.map((_, i) => i);
  order.sort((a, b) => evTime[a]! - evTime[b]! || (evIsCall[a] ? 0 : 1) - (evIsCall[b] ? 0 : 1) || a - b);

  // Doubly linked list over events; node 0 is the head sentinel, node E+1 the tail sentinel.
  const total = order.length;
  const HEAD = 0;
  const TAIL = total + 1;
  const next = new Int32Array(total + 2);
  const prev = new Int32Array(total + 2);
  const nodeOp = new Int32Array(total + 2).fill(-1);
  const nodeIsCall = new Uint8Array(total + 2);
  const retNodeOf = new Int32Array(n).fill(-1);
  for (let k = 0; k < total; k++) {
    const ev = order[k]!;
    const node = k + 1;
    nodeOp[node] = evOp[ev]!;
    nodeIsCall[node] = evIsCall[ev] ? 1 : 0;
    if (!evIsCall[ev]) retNodeOf[evOp[ev]!] = node;
  }
  for (let node = 0; node <= total + 1; node++) {
    next[node] = node + 1;
    prev[node] = node - 1;
  }

  const unlink = (x: number): void => {
    next[prev[x]!] = next[x]!;
    prev[next[x]!] = prev[x]!;
  };
  const relink = (x: number): void => {
    next[prev[x]!] = x;
    prev[next[x]!] = x;
  };
  // Lift a call and its return out of the list; restore in exactly the reverse order.
  const lift = (callNode: number): void => {
    unlink(callNode);
    const r = retNodeOf[nodeOp[callNode]!]!;
    if (r >= 0) unlink(r);
  };
  const unlift = (callNode: number): void => {
    const r = retNodeOf[nodeOp[callNode]!]!;
    if (r >= 0) relink(r);
    relink(callNode);
  };

  const bits = new Uint16Array(Math.ceil(n / 16) + 1);
  const bitsKey = (): string => {
    let s = '';
    for (let i = 0; i < bits.length; i++) s += String.fromCharCode(bits[i]!);
    return s;
  };
  const cache = new Set<string>();
  const stackNode: number[] = [];
  const stackState: S[] = [];
  let okRemaining = 0;
  for (const o of ops) if (o.status === 'ok') okRemaining++;
  let state = model.init;
  let longest: number[] = [];
  let entry = next[HEAD]!;
  let steps = 0;

  for (;;) {
    if (okRemaining === 0) return { kind: 'ok', order: stackNode.map((node) => ops[nodeOp[node]!]!) };
    if ((++steps & 1023) === 0 && (performance.now() > deadline || cache.size > maxCache)) return { kind: 'timeout', explored: cache.size };
    assert(entry !== TAIL, 'search reached the end of the history with acknowledged operations left unlinearized');
    const i = nodeOp[entry]!;
    if (nodeIsCall[entry] === 1) {
      const after = model.step(state, ops[i]!);
      const afterKey = after === undefined ? '' : model.key(after);
      // An unknown-outcome operation that would change nothing here (a cas whose condition fails,
      // a delete of an absent key) is left for later: never placing it is always as good.
      if (after !== undefined && !(ops[i]!.status === 'info' && afterKey === model.key(state))) {
        bits[i >> 4] = bits[i >> 4]! | (1 << (i & 15));
        const k = bitsKey() + afterKey;
        if (!cache.has(k)) {
          cache.add(k);
          stackNode.push(entry);
          stackState.push(state);
          if (stackNode.length > longest.length) longest = stackNode.slice();
          state = after;
          if (ops[i]!.status === 'ok') okRemaining--;
          lift(entry);
          entry = next[HEAD]!;
          continue;
        }
        bits[i >> 4] = bits[i >> 4]! & ~(1 << (i & 15));
      }
      entry = next[entry]!;
      continue;
    }
    // A return of an operation not yet linearized: this branch is dead, backtrack.
    const top = stackNode.pop();
    if (top === undefined) {
      const placed = new Set(longest.map((node) => nodeOp[node]!));
      return {
        kind: 'fail',
        longestPrefix: longest.map((node) => ops[nodeOp[node]!]!),
        stuck: ops.filter((o, j) => o.status === 'ok' && !placed.has(j)),
      };
    }
    state = stackState.pop()!;
    const j = nodeOp[top]!;
    bits[j >> 4] = bits[j >> 4]! & ~(1 << (j & 15));
    if (ops[j]!.status === 'ok') okRemaining++;
    unlift(top);
    entry = next[top]!;
  }
}
