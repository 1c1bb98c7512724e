/**
 * Listeners of a node's events (NodeEvent: the core's role/vote/violation events, applies,
 * snapshots), for the vizor and embedders.
 *
 * Why separate: a listener that throws must not break the Ready loop, and events cost nothing
 * while nobody listens (callers check `size` before building one); both rules live here.
 */
import type { Log } from '../log.ts';
import type { NodeEvent } from './api.ts';

export class NodeEvents {
  readonly #log: Log;
  readonly #listeners = new Set<(event: NodeEvent) => void>();

  constructor(log: Log) {
    this.#log = log;
  }

  get size(): number {
    return this.#listeners.size;
  }

  /** Returns the unsubscribe function. */
  add(listener: (event: NodeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  emit(e: NodeEvent): void {
    if (this.#listeners.size === 0) return;
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'raft event listener failed');
      }
    }
  }
}
