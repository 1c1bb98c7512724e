/**
 * Records the run's history: every event in memory (for the checker) and appended to
 * history.jsonl as it happens (so a killed harness still leaves what it saw on disk).
 *
 * Why one recorder and one clock: events must be in time order and times comparable across
 * clients; JavaScript runs one callback at a time, so stamping with performance.now() at record
 * time gives a total order that matches the real order of invocations and completions.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import type { EventType, HistoryEvent, OpKind } from '../../src/check/history.ts';

/** A fault window for the report: what was done, to whom, from `start` to `end` (ms since the run started). */
export interface FaultWindow {
  readonly name: string;
  readonly detail: string;
  readonly start: number;
  end: number;
}

/** What an event carries beside its core fields: diagnostics, and a cas/txn's conditions and results. */
export type RecordExtra = { final?: boolean; node?: string; error?: string; level?: 'lease' } & Pick<
  HistoryEvent,
  'cond' | 'txn' | 'succeeded' | 'current' | 'gets' | 'version'
>;

/** The run's clock, history and fault windows. */
export class Recorder {
  readonly events: HistoryEvent[] = [];
  readonly faults: FaultWindow[] = [];
  readonly #t0 = performance.now();
  /** Wall-clock ms (epoch) of time 0, so the vizor replay can line history times up with node logs. */
  readonly startedAtMs = Math.round((performance.timeOrigin + this.#t0) * 1000) / 1000;
  readonly #file: string;
  #pending: string[] = [];

  /** `file`: the JSONL file to write (truncated now). */
  constructor(file: string) {
    this.#file = file;
    writeFileSync(file, '');
  }

  /** Milliseconds since the run started. */
  now(): number {
    return Math.round((performance.now() - this.#t0) * 1000) / 1000;
  }

  /** Append one event stamped with the current time; returns it. */
  record(type: EventType, process: number, op: OpKind, key: string, value: string | null, extra: RecordExtra = {}): HistoryEvent {
    const e: HistoryEvent = { type, process, op, key, value, time: this.now(), ...extra };
    this.events.push(e);
    this.#pending.push(JSON.stringify(e));
    if (this.#pending.length >= 256) this.flush();
    return e;
  }

  /** Open a fault window (started now, or at `start`). */
  faultStarted(name: string, detail: string, start: number = this.now()): FaultWindow {
    const w: FaultWindow = { name, detail, start, end: Number.NaN };
    this.faults.push(w);
    return w;
  }

  /** Close a fault window now. */
  faultEnded(w: FaultWindow): void {
    w.end = this.now();
  }

  /** Write buffered events to the file (synchronous: also called from exit paths). */
  flush(): void {
    if (this.#pending.length === 0) return;
    appendFileSync(this.#file, this.#pending.join('\n') + '\n');
    this.#pending = [];
  }
}
