/**
 * The replicated key-value state machine: strings to strings, mutated only by applying
 * committed log entries.
 *
 * Why so small: determinism. Every node applies the same entries in the same order, so
 * apply must depend on nothing but the entry bytes; validation happens before any
 * mutation so a command is applied entirely or not at all.
 */
import { decodeFlat } from './command.ts';

/** In-memory key-value map driven by committed log entries. */
export class KvStore {
  #map: Map<string, string>;

  /** Adopts `initial` (not copied); used by snapshot restore. */
  constructor(initial?: Map<string, string>) {
    this.#map = initial ?? new Map();
  }

  /** Apply one committed entry's data. Empty data (the leader's no-op entry) changes nothing. Throws GRAFTD_CORRUPT (without mutating) on a malformed command. */
  apply(data: Uint8Array): void {
    if (data.length === 0) return;
    const cmd = decodeFlat(data);
    const flat = cmd.flat;
    if (cmd.op === 'set') {
      for (let i = 0; i < flat.length; i += 2) this.#map.set(flat[i]!, flat[i + 1]!);
    } else {
      for (const key of flat) this.#map.delete(key);
    }
  }

  /** The value of `key`, or undefined when absent. */
  get(key: string): string | undefined {
    return this.#map.get(key);
  }

  /** Number of keys. */
  get size(): number {
    return this.#map.size;
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  /** Live iterator; take `Array.from(store.entries())` for a point-in-time copy. */
  entries(): IterableIterator<[string, string]> {
    return this.#map.entries();
  }

  /** Remove every key (before installing a snapshot). */
  clear(): void {
    this.#map.clear();
  }

  /** Take over `other`'s contents (O(1)): installs a restored snapshot into a store others hold a reference to. `other` is left empty. */
  replaceWith(other: KvStore): void {
    if (other === this) return;
    this.#map = other.#map;
    other.#map = new Map();
  }
}
