/**
 * Builders for hand-made histories with conditional operations (cas, txn) and metadata reads.
 *
 * Why apart from helpers.ts: the register specs stay as short as they are; a CAS spec needs the
 * conditions, the branch that ran and what its gets saw, which only these tests write.
 */
import type { CasCondition, KeyTxn, Observed } from '../../src/check/cas-ops.ts';
import type { EventType, HistoryEvent, OpKind } from '../../src/check/history.ts';

/** One operation. `v`: value written (write, cas) or read (read; null = absent). */
export interface CasSpec {
  readonly p: number;
  readonly op: OpKind;
  readonly k?: string;
  readonly v?: string | null;
  /** read ok: the version read (a meta read). */
  readonly version?: number;
  readonly cond?: CasCondition;
  readonly txn?: KeyTxn;
  /** cas/txn ok: the branch that ran. */
  readonly ok?: boolean;
  /** cas ok with ok false: the current state seen. */
  readonly current?: Observed | null;
  /** txn ok: what the branch's gets returned. */
  readonly gets?: readonly (Observed | null)[];
  readonly call: number;
  readonly ret?: number;
  readonly status?: Exclude<EventType, 'invoke'>;
  readonly final?: boolean;
}

/** `{value, version}` shorthand. */
export const seen = (value: string, version: number): Observed => ({ value, version });

/** Build a time-ordered event list (default key 'k', default status 'ok'). */
export function casEvents(specs: readonly CasSpec[]): HistoryEvent[] {
  const out: { e: HistoryEvent; seq: number }[] = [];
  let seq = 0;
  for (const s of specs) {
    const key = s.k ?? 'k';
    const input = s.op === 'write' || s.op === 'cas' ? (s.v ?? null) : null;
    const invoke: HistoryEvent = {
      type: 'invoke',
      process: s.p,
      op: s.op,
      key,
      value: input,
      time: s.call,
      ...(s.final ? { final: true } : {}),
      ...(s.cond === undefined ? {} : { cond: s.cond }),
      ...(s.txn === undefined ? {} : { txn: s.txn }),
    };
    out.push({ seq: seq++, e: invoke });
    if (s.ret === undefined) continue;
    const status = s.status ?? 'ok';
    const result: Partial<HistoryEvent> =
      status !== 'ok'
        ? {}
        : s.op === 'cas'
          ? s.ok === false
            ? { succeeded: false, current: s.current ?? null }
            : { succeeded: true }
          : s.op === 'txn'
            ? { succeeded: s.ok ?? true, gets: s.gets ?? [] }
            : s.op === 'read' && s.version !== undefined
              ? { version: s.version }
              : {};
    const value = s.op === 'read' ? (status === 'ok' ? (s.v ?? null) : null) : input;
    out.push({ seq: seq++, e: { type: status, process: s.p, op: s.op, key, value, time: s.ret, ...result } });
  }
  out.sort((a, b) => a.e.time - b.e.time || a.seq - b.seq);
  return out.map((x) => x.e);
}
