/**
 * The history format shared by the chaos harness (which records it) and the checker (which judges it).
 *
 * Why JSONL of single events rather than finished operations: a harness that is killed half-way
 * still leaves a valid prefix on disk, and the raw invoke/complete pairs are exactly what the
 * Wing & Gong search needs (call and return times); pairing happens here, once.
 */
import { GraftdError } from '../errors.ts';

/** The three operations of the register model. */
export type OpKind = 'read' | 'write' | 'delete';

/**
 * `invoke` starts an operation; exactly one of `ok` (took effect / was served), `fail` (provably had
 * no effect) or `info` (outcome unknown: it may take effect at any time after its invocation, or never)
 * completes it.
 */
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

/**
 * One line of a history file.
 *
 * `value`: for a write, the value written (on the invoke and echoed on the completion); for a read's
 * `ok`, the value read, `null` when the key was absent; `null` otherwise.
 * `time`: milliseconds on one monotonic clock (the harness uses ms since the run started).
 * Each `process` has at most one operation outstanding at a time.
 */
export interface HistoryEvent {
  readonly type: EventType;
  readonly process: number;
  readonly op: OpKind;
  readonly key: string;
  readonly value: string | null;
  readonly time: number;
  /** Set on the invoke of the reads done after all faults healed (used by the lost-write check). */
  readonly final?: boolean;
  /** Diagnostics only: which node the request went to. */
  readonly node?: string;
  /** Diagnostics only: why a request failed or has an unknown outcome (status, error code). */
  readonly error?: string;
}

/** A paired operation. Failed operations are not represented: they provably had no effect. */
export interface Operation {
  /** Index in the list of paired operations of the whole history (stable across sub-histories). */
  readonly id: number;
  readonly process: number;
  readonly op: OpKind;
  readonly key: string;
  /** The value a write writes; null for reads and deletes. */
  readonly input: string | null;
  /** The value a read returned (null = absent); null for writes, deletes and unknown reads. */
  readonly output: string | null;
  /** Invocation time (ms). */
  readonly call: number;
  /** Completion time (ms); `Infinity` when the outcome is unknown. */
  readonly ret: number;
  /** When the completion event was recorded (equals `ret` for `ok`; the `info` event's time otherwise). */
  readonly completedAt: number;
  readonly status: 'ok' | 'info';
  readonly final: boolean;
  readonly node?: string;
}

/** A paired history: the operations that matter, plus the failed ones kept for diagnostics. */
export interface PairedHistory {
  readonly ops: readonly Operation[];
  /** Invocations whose completion was `fail` (no effect), as operations with their real return time. */
  readonly failed: readonly Operation[];
}

const EVENT_TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);
const OP_KINDS: ReadonlySet<string> = new Set(['read', 'write', 'delete']);

function invalid(message: string): GraftdError {
  return new GraftdError('GRAFTD_INVALID_HISTORY', message);
}

/** Validate one decoded JSON value as a history event; throws GRAFTD_INVALID_HISTORY naming `where`. */
export function toEvent(raw: unknown, where: string): HistoryEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid(`${where}: expected an event object, found ${JSON.stringify(raw)}`);
  const r = raw as Record<string, unknown>;
  if (typeof r.type !== 'string' || !EVENT_TYPES.has(r.type))
    throw invalid(`${where}: expected type invoke|ok|fail|info, found ${JSON.stringify(r.type)}`);
  if (typeof r.op !== 'string' || !OP_KINDS.has(r.op))
    throw invalid(`${where}: expected op read|write|delete, found ${JSON.stringify(r.op)}`);
  if (typeof r.process !== 'number' || !Number.isInteger(r.process))
    throw invalid(`${where}: expected an integer process, found ${JSON.stringify(r.process)}`);
  if (typeof r.key !== 'string') throw invalid(`${where}: expected a string key, found ${JSON.stringify(r.key)}`);
  if (r.value !== null && r.value !== undefined && typeof r.value !== 'string') {
    throw invalid(`${where}: expected value string or null, found ${JSON.stringify(r.value)}`);
  }
  if (typeof r.time !== 'number' || !Number.isFinite(r.time))
    throw invalid(`${where}: expected a finite number time, found ${JSON.stringify(r.time)}`);
  const event: {
    type: EventType;
    process: number;
    op: OpKind;
    key: string;
    value: string | null;
    time: number;
    final?: boolean;
    node?: string;
    error?: string;
  } = {
    type: r.type as EventType,
    process: r.process,
    op: r.op as OpKind,
    key: r.key,
    value: (r.value as string | null | undefined) ?? null,
    time: r.time,
  };
  if (r.final === true) event.final = true;
  if (typeof r.node === 'string') event.node = r.node;
  if (typeof r.error === 'string') event.error = r.error;
  return event;
}

/** Parse JSONL text (blank lines ignored; a torn last line is ignored, as after a crash). */
export function parseHistory(text: string): HistoryEvent[] {
  const lines = text.split('\n');
  const events: HistoryEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (isLast) break; // torn tail of a killed writer
      throw invalid(`line ${i + 1}: not JSON (${(err as Error).message})`);
    }
    events.push(toEvent(raw, `line ${i + 1}`));
  }
  return events;
}

/** Serialize events as JSONL (one event per line, trailing newline). */
export function formatHistory(events: readonly HistoryEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + (events.length > 0 ? '\n' : '');
}

/**
 * Pair invocations with completions per process. An invocation left without completion (the
 * history ends first) counts as `info`. Reads with an unknown outcome are dropped: they change
 * nothing and returned nothing we know.
 */
export function pairHistory(events: readonly HistoryEvent[]): PairedHistory {
  const open = new Map<number, HistoryEvent>();
  const ops: Operation[] = [];
  const failed: Operation[] = [];
  let lastTime = Number.NEGATIVE_INFINITY;
  const build = (inv: HistoryEvent, done: HistoryEvent | undefined): void => {
    const status = done === undefined ? 'info' : done.type;
    if (status === 'invoke') throw invalid('internal: completion of type invoke');
    if (inv.op === 'read' && status === 'info') return;
    const base = {
      process: inv.process,
      op: inv.op,
      key: inv.key,
      input: inv.op === 'write' ? inv.value : null,
      output: inv.op === 'read' && status === 'ok' ? (done?.value ?? null) : null,
      call: inv.time,
      final: inv.final === true,
      ...(inv.node === undefined ? {} : { node: inv.node }),
    };
    if (status === 'fail') {
      const t = done?.time ?? inv.time;
      failed.push({ ...base, id: -1 - failed.length, ret: t, completedAt: t, status: 'info' });
      return;
    }
    const completedAt = done?.time ?? lastTime;
    ops.push({ ...base, id: ops.length, ret: status === 'ok' ? completedAt : Number.POSITIVE_INFINITY, completedAt, status });
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.time < lastTime) throw invalid(`event ${i + 1}: time ${e.time} goes back (previous ${lastTime}); events must be in time order`);
    lastTime = e.time;
    const pending = open.get(e.process);
    if (e.type === 'invoke') {
      if (pending !== undefined)
        throw invalid(`event ${i + 1}: process ${e.process} invokes while its ${pending.op} of ${pending.key} is still open`);
      if (e.op === 'write' && e.value === null) throw invalid(`event ${i + 1}: a write must carry a string value`);
      open.set(e.process, e);
      continue;
    }
    if (pending === undefined) throw invalid(`event ${i + 1}: ${e.type} for process ${e.process}, which has no open invocation`);
    if (pending.op !== e.op || pending.key !== e.key) {
      throw invalid(
        `event ${i + 1}: ${e.type} ${e.op} ${e.key} does not match the open ${pending.op} ${pending.key} of process ${e.process}`,
      );
    }
    open.delete(e.process);
    build(pending, e);
  }
  for (const inv of open.values()) build(inv, undefined);
  return { ops, failed };
}

/** Group operations by key, each group sorted by call time. */
export function partitionByKey(ops: readonly Operation[]): Map<string, Operation[]> {
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (list === undefined) {
      list = [];
      byKey.set(op.key, list);
    }
    list.push(op);
  }
  for (const list of byKey.values()) list.sort((a, b) => a.call - b.call || a.id - b.id);
  return byKey;
}

/** Turn operations back into events (for printing or saving a sub-history), in time order. */
export function operationsToEvents(ops: readonly Operation[]): HistoryEvent[] {
  const tagged: { event: HistoryEvent; opId: number }[] = [];
  for (const o of ops) {
    const extra = { ...(o.node === undefined ? {} : { node: o.node }) };
    tagged.push({
      opId: o.id,
      event: {
        type: 'invoke',
        process: o.process,
        op: o.op,
        key: o.key,
        value: o.input,
        time: o.call,
        ...(o.final ? { final: true } : {}),
        ...extra,
      },
    });
    tagged.push({
      opId: o.id,
      event: {
        type: o.status,
        process: o.process,
        op: o.op,
        key: o.key,
        value: o.op === 'read' ? o.output : o.input,
        time: o.completedAt,
        ...extra,
      },
    });
  }
  // At equal times a completion goes before another op's invocation, so a process's next op pairs correctly.
  const rank = (e: HistoryEvent): number => (e.type === 'invoke' ? 1 : 0);
  tagged.sort((a, b) => a.event.time - b.event.time || (a.opId === b.opId ? rank(b.event) - rank(a.event) : rank(a.event) - rank(b.event)));
  return tagged.map((t) => t.event);
}
