/**
 * The keys under a prefix, kept current: read them once, then apply the watch from the read's
 * revision. Used by election observers (who leads: the oldest key) and service discovery (which
 * instances are registered).
 *
 * Why modRevision guards: a range of many pages reads each page at its own revision, so the watch
 * (from the first page's revision + 1) may replay changes a later page already shows; a change is
 * applied only when it is newer than what the map holds, which makes the replay harmless. After a
 * compacted watch (the consumer fell too far behind) the state is read again from scratch.
 */
import type { KeyValue } from '../../kv/types.ts';
import { WatchCompactedError } from '../watch.ts';
import { type QueueClient, readQueue } from './queue.ts';

/** A key as the followed state holds it. */
export interface PrefixEntry {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
}

/** The state after a revision: every key under the prefix, and the revision it is complete to. */
export interface PrefixState {
  readonly revision: number;
  readonly entries: ReadonlyMap<string, PrefixEntry>;
}

function entryOf(kv: KeyValue): PrefixEntry {
  return { key: kv.key, value: kv.value ?? '', createRevision: kv.createRevision, modRevision: kv.modRevision };
}

/** Yields the state once read, then after every revision that changed a key under `prefix`; ends when `signal` aborts. */
export async function* followPrefix(
  client: QueueClient,
  prefix: string,
  signal: AbortSignal,
): AsyncGenerator<PrefixState, void, undefined> {
  while (!signal.aborted) {
    const entries = new Map<string, PrefixEntry>();
    const read = await readQueue(client, prefix, false);
    for (const { kv } of read.entries) entries.set(kv.key, entryOf(kv));
    let revision = read.lastRevision;
    yield { revision, entries };
    try {
      for await (const rev of client.watchRevisions({ prefix, fromRevision: read.firstRevision + 1, signal })) {
        let changed = false;
        for (const e of rev.events) {
          const held = entries.get(e.key);
          if (held !== undefined && held.modRevision >= e.modRevision) continue;
          if (e.type === 'put') {
            entries.set(e.key, { key: e.key, value: e.value ?? '', createRevision: e.createRevision, modRevision: e.modRevision });
            changed = true;
          } else if (held !== undefined) {
            entries.delete(e.key);
            changed = true;
          }
        }
        revision = Math.max(revision, rev.revision);
        if (changed) yield { revision, entries };
      }
      return;
    } catch (err) {
      if (!(err instanceof WatchCompactedError)) throw err;
    }
  }
}
