/**
 * Builders for hand-made histories in checker tests.
 *
 * Why: writing invoke/complete event pairs by hand is noisy and easy to get wrong; a spec per
 * operation (who, what, when, outcome) reads like the timeline diagrams in the literature.
 */
import type { EventType, HistoryEvent, OpKind } from '../../src/check/history.ts';

/** One operation: `v` is the value written, or the value a read returned (null = absent). */
export interface OpSpec {
  readonly p: number;
  readonly op: OpKind;
  readonly k?: string;
  readonly v?: string | null;
  readonly call: number;
  /** Completion time; omit for an operation still open when the history ends. */
  readonly ret?: number;
  readonly status?: Exclude<EventType, 'invoke'>;
  readonly final?: boolean;
}

/** Build a time-ordered event list from operation specs (default key 'k', default status 'ok'). */
export function events(specs: readonly OpSpec[]): HistoryEvent[] {
  const out: { e: HistoryEvent; seq: number }[] = [];
  let seq = 0;
  for (const s of specs) {
    const key = s.k ?? 'k';
    const inputValue = s.op === 'write' ? (s.v ?? null) : null;
    out.push({
      seq: seq++,
      e: { type: 'invoke', process: s.p, op: s.op, key, value: inputValue, time: s.call, ...(s.final ? { final: true } : {}) },
    });
    if (s.ret !== undefined) {
      const status = s.status ?? 'ok';
      const value = s.op === 'read' ? (status === 'ok' ? (s.v ?? null) : null) : inputValue;
      out.push({ seq: seq++, e: { type: status, process: s.p, op: s.op, key, value, time: s.ret } });
    }
  }
  out.sort((a, b) => a.e.time - b.e.time || a.seq - b.seq);
  return out.map((x) => x.e);
}
