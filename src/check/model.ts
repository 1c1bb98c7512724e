/**
 * The sequential specification the checker compares histories against: one register per key.
 *
 * Why a tiny interface: the search (search.ts) only needs "is this operation legal in this state,
 * and what is the next state"; keeping the model apart lets the search be tested on its own and
 * keeps the register semantics (absent = null, delete = write of null) in one place.
 */
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
    }
  },
  // A leading marker keeps null apart from the string "null".
  key: (state) => (state === null ? '\u0000' : `=${state}`),
  show: (state) => (state === null ? 'absent' : JSON.stringify(state)),
};
