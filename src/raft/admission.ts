/**
 * What a message must look like before the core lets it touch any state: bounded terms and
 * well-formed fields. Membership and "is this the leader of the term" are checked in raft.ts,
 * which knows the configuration and the role.
 *
 * Why a file of its own: a peer (or anything that reaches the raft port) controls every field of
 * a message, and the core must fail only on its own state, never on what a peer sent. These
 * checks are pure and cheap (one pass over an append's entries), and a message that fails one is
 * dropped and reported as a protocol violation instead of being adopted, persisted or asserted on.
 */
import { decodeConfChange } from './conf-change.ts';
import type { Entry, Message, MessageType } from './types.ts';

/**
 * The highest term a node adopts, persists or campaigns in: 2^40 (about 1.1e12).
 *
 * Why this bound: a term grows by one per election attempt, so even one election every
 * millisecond for 30 years stays below it (30 y ≈ 9.5e11 ms): no real cluster reaches it. A term
 * beyond it can only come from a bug or an attacker, and adopting it would be permanent (terms
 * never go back). It is far below 2^53, so `term + 1` is always exact in a JS number and every
 * term the core can hold round-trips through the hard state file and the WAL's u64 fields (both
 * require safe integers). 2^53 − 1 itself is not safe to adopt: the next campaign would compute
 * 2^53, which is not a safe integer (the hard state would then be refused on restart) and
 * 2^53 + 1 === 2^53 (two elections in "one" term).
 */
export const MAX_TERM = 2 ** 40;

/** Why a message was dropped; stable names, usable as a metric label. */
export type ViolationReason =
  /** Addressed to another node, claiming to come from this node, or from an empty id. */
  | 'misaddressed'
  /** Term (or a term field) beyond {@link MAX_TERM}, negative or not an integer. */
  | 'term-out-of-range'
  /** Fields that no correct peer sends (non-contiguous entries, entry terms above the message term, a snapshot without voters, ...). */
  | 'malformed'
  /** The sender is not in the configuration (voters ∪ learners ∪ members added by conf entries in the log). */
  | 'non-member'
  /** A leader message (app, heartbeat, snap) at this node's own term while it leads. */
  | 'second-leader'
  /** A leader message (or timeoutNow) at the current term from another id than the leader this node follows in it. */
  | 'not-the-leader';

/** True for the messages only a leader sends. */
export function isLeaderMessage(type: MessageType): boolean {
  return type === 'app' || type === 'heartbeat' || type === 'snap';
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTerm = (v: unknown): v is number => isCount(v) && v <= MAX_TERM;

/** '' when `m`'s term fields are within [0, MAX_TERM], else what is wrong. */
export function termProblem(m: Message): string {
  if (!isTerm(m.term)) return `term ${String(m.term)} is outside [0, ${MAX_TERM}]`;
  if (!isTerm(m.logTerm)) return `logTerm ${String(m.logTerm)} is outside [0, ${MAX_TERM}]`;
  return '';
}

/** '' when `m` is well formed for its type (terms already checked by {@link termProblem}), else what is wrong. */
export function shapeProblem(m: Message): string {
  if (!isCount(m.index) || !isCount(m.commit) || !isCount(m.rejectHint)) {
    return `index ${String(m.index)}, commit ${String(m.commit)}, rejectHint ${String(m.rejectHint)}: expected safe integers ≥ 0`;
  }
  switch (m.type) {
    case 'app':
      if (m.logTerm > m.term) return `app: logTerm ${m.logTerm} is above the message term ${m.term}`;
      return entriesProblem(m);
    case 'snap': {
      const s = m.snapshot;
      if (s === null) return 'snap without snapshot metadata';
      if (!isCount(s.index) || !isTerm(s.term) || s.term > m.term) {
        return `snap: snapshot (index ${String(s.index)}, term ${String(s.term)}) is not valid at message term ${m.term}`;
      }
      const cs = s.confState;
      if (!Array.isArray(cs?.voters) || cs.voters.length === 0 || !Array.isArray(cs.learners)) {
        return 'snap: the snapshot has no voters';
      }
      return '';
    }
    case 'vote':
    case 'preVote':
      return m.logTerm > m.term ? `${m.type}: last log term ${m.logTerm} is above the campaign term ${m.term}` : '';
    default:
      return '';
  }
}

/** An append's entries follow m.index contiguously, with non-decreasing terms in [m.logTerm, m.term]. */
function entriesProblem(m: Message): string {
  const ents = m.entries;
  if (!Array.isArray(ents)) return 'app: entries is not an array';
  let prevTerm = m.logTerm;
  for (let k = 0; k < ents.length; k++) {
    const e = ents[k] as Entry;
    if (e.index !== m.index + 1 + k) return `app: entry ${k} has index ${String(e.index)}, expected ${m.index + 1 + k}`;
    if (!isTerm(e.term) || e.term < prevTerm || e.term > m.term) {
      return `app: entry ${e.index} has term ${String(e.term)}, expected within [${prevTerm}, ${m.term}]`;
    }
    if (!(e.data instanceof Uint8Array)) return `app: entry ${e.index} has no data bytes`;
    if (e.type === 'conf') {
      try {
        decodeConfChange(e.data);
      } catch {
        return `app: conf entry ${e.index} does not decode`;
      }
    } else if (e.type !== 'normal') {
      return `app: entry ${e.index} has type ${String(e.type)}`;
    }
    prevTerm = e.term;
  }
  return '';
}
