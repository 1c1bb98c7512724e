/**
 * The sequential specification the checker compares histories against: one register per key.
 *
 * Why a tiny interface: the search (search.ts) only needs "is this operation legal in this state,
 * and what is the next state"; keeping the model apart lets the search be tested on its own and
 * keeps the register semantics (absent = null, delete = write of null) in one place.
 *
 * Two models: the plain register (value only) for keys with only read/write/delete, and the
 * CAS register (value and version, as the server counts it) for keys that also see conditional
 * operations; checker.ts picks per key, so plain histories are checked exactly as before.
 */
import type { TxnStep } from './cas-ops.ts';
import { compareHolds } from './cas-ops.ts';
import type { Operation } from './history.ts';

/** A sequential model over states of type S. States must be comparable by `key` for memoization. */
export interface Model<S> {
  readonly init: S;
  /** The state after `op`, or `undefined` when `op` cannot happen in `state` (a read that returned something else). */
  step(state: S, op: Operation): S | undefined;
  /** A string that is equal for equal states (used in the memo cache). */
  key(state: S): string;
  /** How to show a state in messages. */
  show(state: S): string;
}

/** A register whose value is a string, or null when the key is absent. */
export const registerModel: Model<string | null> = {
  init: null,
  step(state, op) {
    switch (op.op) {
      case 'write':
        return op.input;
      case 'delete':
        return null;
      case 'read':
        return op.output === state ? state : undefined;
      default:
        return undefined; // cas/txn need casModel (checker.ts never hands them to this one)
    }
  },
  // A leading marker keeps null apart from the string "null".
  key: (state) => (state === null ? '\u0000' : `=${state}`),
  show: (state) => (state === null ? 'absent' : JSON.stringify(state)),
};

/** One key as the CAS register sees it: its value (null: absent) and version (writes since created; 0 when absent). */
export interface CasState {
  readonly value: string | null;
  readonly version: number;
}

const ABSENT: CasState = { value: null, version: 0 };

const put = (state: CasState, value: string): CasState => ({ value, version: state.version + 1 });

/**
 * Run `steps` from `state`. `gets`: what the gets returned (checked in order; undefined for an
 * operation with an unknown outcome, whose gets returned nothing we know). undefined: a get
 * returned something else.
 */
function runBranch(state: CasState, steps: readonly TxnStep[], gets: Operation['gets']): CasState | undefined {
  let s = state;
  let g = 0;
  for (const step of steps) {
    if ('put' in step) s = put(s, step.put);
    else if ('delete' in step) s = ABSENT;
    else if (gets !== undefined) {
      const seen = gets[g++];
      if (seen === undefined) return undefined;
      if (seen === null ? s.value !== null : s.value !== seen.value || s.version !== seen.version) return undefined;
    }
  }
  return s;
}

/**
 * A register with a version, and compare-and-set / single-key transactions: a cas or txn runs its
 * success branch when every compare holds on the state it is linearized at, else its failure
 * branch; an acknowledged one must report that branch and what its gets saw there. One with an
 * unknown outcome may be linearized anywhere after its call (running whichever branch the state
 * picks) or never.
 */
export const casModel: Model<CasState> = {
  init: ABSENT,
  step(state, op) {
    switch (op.op) {
      case 'write':
        return put(state, op.input!);
      case 'delete':
        return ABSENT;
      case 'read':
        if (op.output !== state.value) return undefined;
        return op.outputVersion === undefined || op.outputVersion === state.version ? state : undefined;
      case 'cas':
      case 'txn': {
        const txn = op.txn!;
        const holds = txn.compare.every((c) => compareHolds(c, state.value, state.version));
        if (op.status === 'ok' && op.succeeded !== holds) return undefined;
        return runBranch(state, holds ? txn.success : txn.failure, op.status === 'ok' ? (op.gets ?? []) : undefined);
      }
    }
  },
  key: (state) => (state.value === null ? '\u0000' : `${state.version}=${state.value}`),
  show: (state) => (state.value === null ? 'absent' : `${JSON.stringify(state.value)} (version ${state.version})`),
};

/** Whether an operation needs the CAS register (a conditional operation, or a read that saw a version). */
export const needsCasModel = (o: Operation): boolean => o.op === 'cas' || o.op === 'txn' || o.outputVersion !== undefined;
