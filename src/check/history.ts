/**
 * The history format shared by the chaos harness (which records it) and the checker (which judges it).
 *
 * Why JSONL of single events rather than finished operations: a harness that is killed half-way
 * still leaves a valid prefix on disk, and the raw invoke/complete pairs are exactly what the
 * Wing & Gong search needs (call and return times); pairing happens here, once.
 */
import { GraftdError } from '../errors.ts';
import type { CasCondition, KeyTxn, Observed } from './cas-ops.ts';
import { casToTxn, toCondition, toKeyTxn, toObserved } from './cas-ops.ts';

/** The operations: the register's read / write / delete, and the conditional cas / txn (cas-ops.ts). */
export type OpKind = 'read' | 'write' | 'delete' | 'cas' | 'txn';

/**
 * `invoke` starts an operation; exactly one of `ok` (took effect / was served), `fail` (provably had
 * no effect) or `info` (outcome unknown: it may take effect at any time after its invocation, or never)
 * completes it.
 */
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

/**
 * One line of a history file.
 *
 * `value`: for a write or a cas, the value written (on the invoke and echoed on the completion); for
 * a read's `ok`, the value read, `null` when the key was absent; `null` otherwise.
 * A cas's invoke carries `cond`, a txn's invoke `txn`; their `ok` carries `succeeded`, and what the
 * executed branch's gets observed: `current` for a cas that failed, `gets` for a txn. A read's `ok`
 * may carry `version` (a `?meta=true` read; 0 when absent).
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
  /** cas invoke: the conditions (all must hold). */
  readonly cond?: CasCondition;
  /** txn invoke: the single-key transaction. */
  readonly txn?: KeyTxn;
  /** cas/txn ok: whether the compares held (the success branch ran). */
  readonly succeeded?: boolean;
  /** cas ok with succeeded false: the key as the failed condition saw it (null: absent). */
  readonly current?: Observed | null;
  /** txn ok: what each get of the executed branch returned, in order. */
  readonly gets?: readonly (Observed | null)[];
  /** read ok of a `?meta=true` read: the key's version (0: absent). */
  readonly version?: number;
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
  /** cas/txn: the operation as a single-key transaction (a cas: its conditions, put on success, get on failure). */
  readonly txn?: KeyTxn;
  /** cas: the conditions as sent (for messages). */
  readonly cond?: CasCondition;
  /** ok cas/txn: whether the success branch ran. */
  readonly succeeded?: boolean;
  /** ok cas/txn: what the executed branch's gets returned, in order (a failed cas: its `current`). */
  readonly gets?: readonly (Observed | null)[];
  /** ok read with metadata: the version read (0: absent). */
  readonly outputVersion?: number;
}

/** A paired history: the operations that matter, plus the failed ones kept for diagnostics. */
export interface PairedHistory {
  readonly ops: readonly Operation[];
  /** Invocations whose completion was `fail` (no effect), as operations with their real return time. */
  readonly failed: readonly Operation[];
}

const EVENT_TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);
const OP_KINDS: ReadonlySet<string> = new Set(['read', 'write', 'delete', 'cas', 'txn']);

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
    throw invalid(`${where}: expected op read|write|delete|cas|txn, found ${JSON.stringify(r.op)}`);
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
    cond?: CasCondition;
    txn?: KeyTxn;
    succeeded?: boolean;
    current?: Observed | null;
    gets?: (Observed | null)[];
    version?: number;
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
  if (r.cond !== undefined) event.cond = toCondition(r.cond, where);
  if (r.txn !== undefined) event.txn = toKeyTxn(r.txn, where);
  if (r.succeeded !== undefined) {
    if (typeof r.succeeded !== 'boolean') throw invalid(`${where}: succeeded must be a boolean, found ${JSON.stringify(r.succeeded)}`);
    event.succeeded = r.succeeded;
  }
  if (r.current !== undefined) event.current = toObserved(r.current, `${where}: current`);
  if (r.gets !== undefined) {
    if (!Array.isArray(r.gets)) throw invalid(`${where}: gets must be an array`);
    event.gets = r.gets.map((g, i) => toObserved(g, `${where}: gets[${i}]`));
  }
  if (r.version !== undefined) {
    if (typeof r.version !== 'number' || !Number.isSafeInteger(r.version) || r.version < 0)
      throw invalid(`${where}: version must be a whole number, found ${JSON.stringify(r.version)}`);
    event.version = r.version;
  }
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

/** The cas/txn fields of a paired operation (normal form, and the result when `done` is its ok). */
function conditional(inv: HistoryEvent, done: HistoryEvent | undefined): Partial<Operation> {
  if (inv.op === 'read') return done?.version === undefined ? {} : { outputVersion: done.version };
  if (inv.op !== 'cas' && inv.op !== 'txn') return {};
  const txn = inv.op === 'cas' ? casToTxn(inv.cond!, inv.value!) : inv.txn!;
  const out: { txn: KeyTxn; cond?: CasCondition; succeeded?: boolean; gets?: readonly (Observed | null)[] } = { txn };
  if (inv.op === 'cas') out.cond = inv.cond!;
  if (done !== undefined) {
    out.succeeded = done.succeeded!;
    out.gets = inv.op === 'cas' ? (done.succeeded === true ? [] : [done.current ?? null]) : done.gets!;
  }
  return out;
}

/** An ok cas/txn must say which branch ran and what its gets saw (as many as the branch has). */
function checkConditionalResult(inv: HistoryEvent, done: HistoryEvent, n: number): void {
  if (inv.op !== 'cas' && inv.op !== 'txn') return;
  if (done.succeeded === undefined) throw invalid(`event ${n}: an ok ${inv.op} must carry succeeded`);
  if (inv.op === 'cas') {
    if (!done.succeeded && done.current === undefined) throw invalid(`event ${n}: a failed cas must carry current (null: absent)`);
    return;
  }
  const branch = done.succeeded ? inv.txn!.success : inv.txn!.failure;
  const want = branch.filter((s) => 'get' in s).length;
  if (done.gets === undefined || done.gets.length !== want)
    throw invalid(`event ${n}: an ok txn must carry gets with one entry per get of the branch that ran (${want})`);
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
      input: inv.op === 'write' || inv.op === 'cas' ? inv.value : null,
      output: inv.op === 'read' && status === 'ok' ? (done?.value ?? null) : null,
      call: inv.time,
      final: inv.final === true,
      ...(inv.node === undefined ? {} : { node: inv.node }),
      ...conditional(inv, status === 'ok' ? done : undefined),
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
      if ((e.op === 'write' || e.op === 'cas') && e.value === null) throw invalid(`event ${i + 1}: a ${e.op} must carry a string value`);
      if (e.op === 'cas' && e.cond === undefined) throw invalid(`event ${i + 1}: a cas invoke must carry cond`);
      if (e.op === 'txn' && e.txn === undefined) throw invalid(`event ${i + 1}: a txn invoke must carry txn`);
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
    if (e.type === 'ok') checkConditionalResult(pending, e, i + 1);
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

/** The result fields of an ok cas/txn's completion event. */
function resultFields(o: Operation): Partial<HistoryEvent> {
  if (o.status !== 'ok' || o.succeeded === undefined) return {};
  if (o.op === 'cas') return o.succeeded ? { succeeded: true } : { succeeded: false, current: o.gets?.[0] ?? null };
  return { succeeded: o.succeeded, gets: o.gets ?? [] };
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
        ...(o.cond !== undefined ? { cond: o.cond } : o.op === 'txn' && o.txn !== undefined ? { txn: o.txn } : {}),
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
        ...(o.outputVersion === undefined ? {} : { version: o.outputVersion }),
        ...resultFields(o),
      },
    });
  }
  // At equal times a completion goes before another op's invocation, so a process's next op pairs correctly.
  const rank = (e: HistoryEvent): number => (e.type === 'invoke' ? 1 : 0);
  tagged.sort((a, b) => a.event.time - b.event.time || (a.opId === b.opId ? rank(b.event) - rank(a.event) : rank(a.event) - rank(b.event)));
  return tagged.map((t) => t.event);
}
