/**
 * The concurrent clients: each one loops over read / write-unique-value / delete against a
 * random node, on a rotating set of keys, and records every invocation and completion. Reads are
 * linearizable or (with `leaseReads`, the default) some at `level=lease`; both are recorded as
 * reads and the checker holds both to linearizability, since docs/api.md promises that for lease
 * reads under its clock assumptions (bounded drift; a stalled process sees its stall).
 *
 * Why rotating keys: the search cost grows with the number of operations on one key and,
 * above all, with the unknown-outcome writes that stay pending forever; moving on to fresh
 * keys every few seconds keeps each key's history small enough to decide, while overlapping
 * windows still give every key concurrent readers and writers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { OpKind } from '../../src/check/history.ts';
import type { CasMix } from './cas-workload.ts';
import { DEFAULT_CAS_MIX, runCasClient } from './cas-workload.ts';
import type { NodeClients } from './http-ops.ts';
import type { Rng } from './prng.ts';
import type { Recorder } from './recorder.ts';

/** Shape of the load. */
export interface WorkloadOptions {
  readonly clients: number;
  /** Keys in use at any moment. */
  readonly keysPerWindow: number;
  /** How often the key window moves on (by half its width). */
  readonly keyWindowMs: number;
  /** Random pause after each operation, [0, max] ms (failed operations wait at least 20 ms). */
  readonly thinkTimeMaxMs: number;
  /**
   * Relative weights of linearizable read / lease read / write / delete (`leaseRead` counts only
   * with `leaseReads`).
   */
  readonly mix: { readonly read: number; readonly leaseRead: number; readonly write: number; readonly delete: number };
  /** Send some reads with `?level=lease` (default true). */
  readonly leaseReads: boolean;
  /**
   * `register` (default): the mix above. `cas`: conditional writes and single-key transactions
   * among reads and writes (cas-workload.ts), with `casMix`.
   */
  readonly kind: WorkloadKind;
  readonly casMix: CasMix;
}

export const WORKLOAD_KINDS = ['register', 'cas'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  clients: 6,
  keysPerWindow: 4,
  keyWindowMs: 4000,
  thinkTimeMaxMs: 10,
  mix: { read: 3, leaseRead: 2, write: 4, delete: 1 },
  leaseReads: true,
  kind: 'register',
  casMix: DEFAULT_CAS_MIX,
};

/** Name of key `i`. */
export const keyName = (i: number): string => `k${i}`;

/** The key indices in use at time `nowMs`. */
export function keysAt(nowMs: number, options: Pick<WorkloadOptions, 'keysPerWindow' | 'keyWindowMs'>): number[] {
  const stride = Math.max(1, Math.ceil(options.keysPerWindow / 2));
  const window = Math.floor(nowMs / options.keyWindowMs);
  return Array.from({ length: options.keysPerWindow }, (_, j) => window * stride + j);
}

/** The running clients of one run. */
export class Workload {
  readonly #rec: Recorder;
  readonly #clients: NodeClients;
  readonly #nodes: () => readonly string[];
  readonly #rng: Rng;
  readonly #opts: WorkloadOptions;
  readonly #keys = new Set<string>();
  #stopped = false;
  #loops: Promise<void>[] = [];

  /** `nodes`: the nodes to pick from, asked before every operation (membership changes during a run). */
  constructor(
    rec: Recorder,
    clients: NodeClients,
    nodes: readonly string[] | (() => readonly string[]),
    rng: Rng,
    options: WorkloadOptions,
  ) {
    this.#rec = rec;
    this.#clients = clients;
    this.#nodes = typeof nodes === 'function' ? nodes : () => nodes;
    this.#rng = rng;
    this.#opts = options;
  }

  /** Every key some client touched. */
  keysUsed(): string[] {
    return [...this.#keys].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  }

  /** Count `key` as used (final reads and the replica comparison cover it). */
  noteKey(key: string): void {
    this.#keys.add(key);
  }

  /** Start the client loops. */
  start(): void {
    for (let c = 0; c < this.#opts.clients; c++) {
      const rng = this.#rng.fork(c);
      this.#loops.push(this.#opts.kind === 'cas' ? this.#casLoop(c, rng) : this.#loop(c, rng));
    }
  }

  #casLoop(process: number, rng: Rng): Promise<void> {
    return runCasClient(
      {
        rec: this.#rec,
        clients: this.#clients,
        pickNode: (r) => r.pick(this.#nodes()),
        pickKey: (r) => {
          const key = keyName(r.pick(keysAt(this.#rec.now(), this.#opts)));
          this.#keys.add(key);
          return key;
        },
        stopped: () => this.#stopped,
        mix: this.#opts.casMix,
        leaseReads: this.#opts.leaseReads,
        thinkTimeMaxMs: this.#opts.thinkTimeMaxMs,
      },
      process,
      rng,
    );
  }

  /** Ask the clients to stop and wait until each has finished its operation in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  async #loop(process: number, rng: Rng): Promise<void> {
    const { mix } = this.#opts;
    const lease = this.#opts.leaseReads ? mix.leaseRead : 0;
    const total = mix.read + lease + mix.write + mix.delete;
    let seq = 0;
    while (!this.#stopped) {
      const key = keyName(rng.pick(keysAt(this.#rec.now(), this.#opts)));
      this.#keys.add(key);
      const roll = rng.next() * total;
      const op: OpKind = roll < mix.read + lease ? 'read' : roll < mix.read + lease + mix.write ? 'write' : 'delete';
      const level: 'lease' | undefined = op === 'read' && roll >= mix.read ? 'lease' : undefined;
      const value = op === 'write' ? `${process}-${seq++}` : null;
      const node = rng.pick(this.#nodes());
      // `level` is diagnostics in history.jsonl (the checker treats every read alike).
      const tag = level === undefined ? { node } : { node, level };
      this.#rec.record('invoke', process, op, key, value, tag);
      const out = await this.#clients.perform(node, op, key, value, level);
      const done = op === 'read' ? out.value : value;
      this.#rec.record(out.type, process, op, key, out.type === 'ok' ? done : op === 'write' ? value : null, {
        ...tag,
        ...(out.error === undefined ? {} : { error: out.error }),
      });
      const think = rng.int(out.type === 'ok' ? 0 : 20, Math.max(out.type === 'ok' ? 0 : 20, this.#opts.thinkTimeMaxMs));
      if (think > 0) await sleep(think);
    }
  }
}
