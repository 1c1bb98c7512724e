/**
 * Construction of {@link Message} objects with one fixed shape.
 *
 * Why: every message has every field (see types.ts), so building them through one function keeps
 * the objects monomorphic for the JS engine and keeps call sites short.
 */
import type { Entry, Message, MessageType, NodeId, SnapshotMeta } from './types.ts';

/** Shared empty entries array for messages without entries (never mutated). */
export const NO_ENTRIES: readonly Entry[] = Object.freeze([]) as readonly Entry[];

/** Build a message; unused fields default to 0 / '' / [] / false / null. */
export function makeMessage(
  type: MessageType,
  from: NodeId,
  to: NodeId,
  term: number,
  fields: {
    logTerm?: number;
    index?: number;
    entries?: readonly Entry[];
    commit?: number;
    reject?: boolean;
    rejectHint?: number;
    context?: string;
    snapshot?: SnapshotMeta | null;
  } = {},
): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? NO_ENTRIES,
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? '',
    snapshot: fields.snapshot ?? null,
  };
}

/** An AppendEntries message (hot path: no options object). */
export function appendMessage(
  from: NodeId,
  to: NodeId,
  term: number,
  index: number,
  logTerm: number,
  entries: readonly Entry[],
  commit: number,
): Message {
  return { type: 'app', from, to, term, logTerm, index, entries, commit, reject: false, rejectHint: 0, context: '', snapshot: null };
}

/** An AppendEntries response (hot path). */
export function appendResponse(
  from: NodeId,
  to: NodeId,
  term: number,
  index: number,
  reject: boolean,
  rejectHint: number,
  logTerm: number,
): Message {
  return {
    type: 'appResp',
    from,
    to,
    term,
    logTerm,
    index,
    entries: NO_ENTRIES,
    commit: 0,
    reject,
    rejectHint,
    context: '',
    snapshot: null,
  };
}
