/**
 * The watchers of a chaos run (issue 14): one per founding node, each following prefix `""` (every
 * key: so every revision must reach it) from revision 1, hopping to a random member every few
 * seconds and whenever its connection breaks, fails or goes silent, resuming with `Last-Event-ID` =
 * the last complete revision — exactly what a client does. Every event, connect and end is recorded
 * (watch.jsonl in the run directory) for watch-check.ts.
 *
 * Why hop on a timer and not only on faults: resuming on another node is the part of the protocol
 * most likely to skip or repeat a revision, and a healthy stream would otherwise never exercise it.
 * Why one `skip` record when every node has compacted the next revision: that is a legitimate end
 * of coverage (the history is bounded), not a checker violation; the stream goes on after it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddonResult, RunAddon } from './addons.ts';
import type { Endpoint } from './http-json.ts';
import { jsonRequest } from './http-json.ts';
import type { Rng } from './prng.ts';
import type { ChaosRun } from './run.ts';
import { schemeOf } from './security.ts';
import type { SseEnd, SseEvent } from './sse-reader.ts';
import { openSse } from './sse-reader.ts';
import type { StreamRecord, WatchChange } from './watch-check.ts';
import { checkWatch } from './watch-check.ts';

export interface WatchOptions {
  /** The watched prefix (`""`: every key; the checker then requires every revision). */
  readonly prefix: string;
  /** A connection is moved to another node after a random time in this range (ms). */
  readonly hopMs: readonly [number, number];
  /** Silence after which a stream is given up (the nodes send progress every 500 ms in chaos). */
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** How long after healing the watchers get to reach the cluster's revision. */
  readonly settleTimeoutMs: number;
  /** Records kept per watcher (a bound; the run fails loudly past it). */
  readonly maxRecords: number;
}

export const DEFAULT_WATCH: WatchOptions = {
  prefix: '',
  hopMs: [1000, 5000],
  idleTimeoutMs: 2500,
  connectTimeoutMs: 1500,
  settleTimeoutMs: 20_000,
  maxRecords: 2_000_000,
};

/** One watcher: a logical stream across reconnects. */
class Watcher {
  readonly name: string;
  readonly records: StreamRecord[] = [];
  /** Last revision whose changes all arrived (or a progress event claimed). */
  last = 0;
  #stream: { close(): void } | undefined;
  #stopped = false;
  #overflow = false;

  constructor(name: string) {
    this.name = name;
  }

  push(r: StreamRecord, max: number): void {
    if (this.records.length >= max) {
      this.#overflow = true;
      return;
    }
    this.records.push(r);
  }

  get overflow(): boolean {
    return this.#overflow;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  attach(s: { close(): void } | undefined): void {
    this.#stream = s;
  }

  stop(): void {
    this.#stopped = true;
    this.#stream?.close();
  }
}

/** The watch checker's part of a run. */
export class WatchAddon implements RunAddon {
  readonly name = 'watch' as const;
  readonly #run: ChaosRun;
  readonly #opts: WatchOptions;
  readonly #rng: Rng;
  readonly #watchers: Watcher[] = [];
  #loops: Promise<void>[] = [];
  #target: number | undefined;
  #settleNote = '';

  constructor(run: ChaosRun, options: Partial<WatchOptions> = {}) {
    this.#run = run;
    this.#opts = { ...DEFAULT_WATCH, ...options };
    this.#rng = run.rng.fork(11);
  }

  #endpoint(id: string): Endpoint {
    const c = this.#run.cluster;
    return { base: `${schemeOf(c.security)}://${c.spec(id).httpAddr}`, security: c.security };
  }

  start(): void {
    const ids = this.#run.cluster.memberIds();
    ids.forEach((id, i) => {
      const w = new Watcher(`w${i + 1}`);
      this.#watchers.push(w);
      this.#loops.push(this.#loop(w, id, this.#rng.fork(i)));
    });
  }

  async stopLoad(): Promise<void> {
    // The watchers keep following until settle(): they must reach the revision after healing.
  }

  async #loop(w: Watcher, first: string, rng: Rng): Promise<void> {
    const now = (): number => this.#run.recorder.now();
    let node = first;
    /** Nodes that refused the next revision as compacted since the last progress (node → oldest). */
    const compacted = new Map<string, number>();
    while (!w.stopped) {
      w.push({ t: 'connect', time: now(), node, after: w.last }, this.#opts.maxRecords);
      const path = `/watch?prefix=${encodeURIComponent(this.#opts.prefix)}&prevValue=true`;
      let progressed = false;
      const onEvent = (e: SseEvent): void => {
        if (e.event === 'message') {
          const change = JSON.parse(e.data) as WatchChange;
          const id = e.id === undefined ? undefined : Number(e.id);
          w.push(id === undefined ? { t: 'change', time: now(), change } : { t: 'change', time: now(), id, change }, this.#opts.maxRecords);
          if (id !== undefined && id > w.last) {
            w.last = id;
            progressed = true;
          }
        } else if (e.event === 'progress') {
          const rev = Number(e.id);
          w.push({ t: 'progress', time: now(), revision: rev }, this.#opts.maxRecords);
          if (rev > w.last) w.last = rev;
        } else if (e.event === 'compacted') {
          const d = JSON.parse(e.data) as { oldest?: number };
          if (typeof d.oldest === 'number') compacted.set(node, d.oldest);
          w.push({ t: 'end', time: now(), reason: `event compacted ${e.data}` }, this.#opts.maxRecords);
        } else if (e.event === 'closed') {
          w.push({ t: 'end', time: now(), reason: `event closed ${e.data}` }, this.#opts.maxRecords);
        }
      };
      const stream = openSse(
        this.#endpoint(node),
        path,
        {
          headers: { 'last-event-id': String(w.last) },
          connectTimeoutMs: this.#opts.connectTimeoutMs,
          idleTimeoutMs: this.#opts.idleTimeoutMs,
        },
        onEvent,
      );
      w.attach(stream);
      const hop = setTimeout(() => stream.close(), rng.int(this.#opts.hopMs[0], this.#opts.hopMs[1]));
      const end: SseEnd = await stream.done;
      clearTimeout(hop);
      w.attach(undefined);
      w.push({ t: 'end', time: now(), reason: describeEnd(end) }, this.#opts.maxRecords);
      if (progressed) compacted.clear();
      if (end.kind === 'refused' && end.status === 410) {
        const oldest = Number((JSON.parse(end.body) as { oldest?: unknown }).oldest);
        if (Number.isInteger(oldest)) compacted.set(node, oldest);
      }
      const members = this.#run.cluster.memberIds();
      if (members.length > 0 && members.every((id) => compacted.has(id))) {
        // Every member has dropped the next revision: coverage ends there, the stream goes on.
        const oldest = Math.min(...members.map((id) => compacted.get(id)!));
        if (oldest - 1 > w.last) {
          w.push({ t: 'skip', time: now(), to: oldest - 1 }, this.#opts.maxRecords);
          w.last = oldest - 1;
        }
        compacted.clear();
      }
      if (w.stopped) break;
      if (end.kind !== 'closed') await sleep(rng.int(20, 150));
      node = rng.pick(members.length > 0 ? members : [first]);
    }
  }

  async settle(): Promise<void> {
    const c = this.#run.cluster;
    let target = 0;
    for (const id of c.memberIds()) {
      const a = await jsonRequest(this.#endpoint(id), 'GET', '/status', undefined, 3000);
      const rev = a.kind === 'answer' ? (a.body as { revision?: unknown } | undefined)?.revision : undefined;
      if (typeof rev === 'number') target = Math.max(target, rev);
    }
    this.#target = target;
    const deadline = Date.now() + this.#opts.settleTimeoutMs;
    while (Date.now() < deadline && this.#watchers.some((w) => w.last < target)) await sleep(100);
    this.#settleNote = `target revision ${target}; watchers at ${this.#watchers.map((w) => `${w.name}=${w.last}`).join(' ')}`;
    this.#run.note(`watch: ${this.#settleNote}`);
    await this.close();
  }

  async close(): Promise<void> {
    for (const w of this.#watchers) w.stop();
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  check(): AddonResult {
    const streams = new Map(this.#watchers.map((w) => [w.name, w.records]));
    writeFileSync(
      join(this.#run.runDir, 'watch.jsonl'),
      this.#watchers.flatMap((w) => w.records.map((r) => JSON.stringify({ w: w.name, ...r }))).join('\n') + '\n',
    );
    const overflow = this.#watchers
      .filter((w) => w.overflow)
      .map((w) => `${w.name}: more than ${this.#opts.maxRecords} records, the rest dropped`);
    if (overflow.length > 0 || this.#target === undefined) {
      return {
        name: 'watch',
        violations: [...overflow, ...(this.#target === undefined ? ['the run ended before the watchers could settle'] : [])],
        lines: [],
      };
    }
    const res = checkWatch(streams, this.#run.recorder.events, { dense: this.#opts.prefix === '', target: this.#target });
    const s = res.stats;
    return {
      name: 'watch',
      violations: res.violations,
      lines: [
        `${s.streams} streams, ${s.reconnects} reconnects, ${s.revisions} revisions (${s.changes} changes), coverage holes ${s.holes}`,
        `acknowledged writes ${s.ackedWrites}, writes found in streams ${s.writesFound}, reads/deletes checked ${s.readsChecked}, undecided ${s.undecided}`,
        this.#settleNote,
      ],
    };
  }
}

function describeEnd(e: SseEnd): string {
  if (e.kind === 'refused') return `refused ${e.status} ${e.body.slice(0, 200)}`;
  if (e.kind === 'error') return `error ${e.error}`;
  return e.kind;
}
