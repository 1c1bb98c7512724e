/**
 * The concurrent clients: each one loops over read / write-unique-value / delete against a
 * random node, on a rotating set of keys, and records every invocation and completion.
 *
 * Why rotating keys: the search cost grows with the number of operations on one key and,
 * above all, with the unknown-outcome writes that stay pending forever; moving on to fresh
 * keys every few seconds keeps each key's history small enough to decide, while overlapping
 * windows still give every key concurrent readers and writers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { OpKind } from '../../src/check/history.ts';
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
  /** Relative weights of read / write / delete. */
  readonly mix: { readonly read: number; readonly write: number; readonly delete: number };
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  clients: 6,
  keysPerWindow: 4,
  keyWindowMs: 4000,
  thinkTimeMaxMs: 10,
  mix: { read: 5, write: 4, delete: 1 },
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
  readonly #nodes: readonly string[];
  readonly #rng: Rng;
  readonly #opts: WorkloadOptions;
  readonly #keys = new Set<string>();
  #stopped = false;
  #loops: Promise<void>[] = [];

  constructor(rec: Recorder, clients: NodeClients, nodes: readonly string[], rng: Rng, options: WorkloadOptions) {
    this.#rec = rec;
    this.#clients = clients;
    this.#nodes = nodes;
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
    for (let c = 0; c < this.#opts.clients; c++) this.#loops.push(this.#loop(c, this.#rng.fork(c)));
  }

  /** Ask the clients to stop and wait until each has finished its operation in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  async #loop(process: number, rng: Rng): Promise<void> {
    const { mix } = this.#opts;
    const total = mix.read + mix.write + mix.delete;
    let seq = 0;
    while (!this.#stopped) {
      const key = keyName(rng.pick(keysAt(this.#rec.now(), this.#opts)));
      this.#keys.add(key);
      const roll = rng.next() * total;
      const op: OpKind = roll < mix.read ? 'read' : roll < mix.read + mix.write ? 'write' : 'delete';
      const value = op === 'write' ? `${process}-${seq++}` : null;
      const node = rng.pick(this.#nodes);
      this.#rec.record('invoke', process, op, key, value, { node });
      const out = await this.#clients.perform(node, op, key, value);
      const done = op === 'read' ? out.value : value;
      this.#rec.record(out.type, process, op, key, out.type === 'ok' ? done : op === 'write' ? value : null, {
        node,
        ...(out.error === undefined ? {} : { error: out.error }),
      });
      const think = rng.int(out.type === 'ok' ? 0 : 20, Math.max(out.type === 'ok' ? 0 : 20, this.#opts.thinkTimeMaxMs));
      if (think > 0) await sleep(think);
    }
  }
}
