/**
 * The queue under locks and elections: each contender owns one key `<name>/<leaseId>` attached to
 * its lease; contenders are ordered by their keys' create revisions; the first one holds the lock
 * (leads the election).
 *
 * Why each waiter watches only its predecessor's key: when the holder releases, only the next
 * waiter wakes (no thundering herd of N watchers re-reading the queue). A waiter that wakes re-reads
 * the queue, since the predecessor may have left early (its process died, its lease expired)
 * while an older contender still holds.
 *
 * Why the create is a transaction "createRevision = 0 → put": it is idempotent, so a create whose
 * outcome is unknown can be sent again — the second one finds the key and answers it instead.
 */
import type { KeyValue, RangeRequest, RangeResult, TxnRequest, TxnResult } from '../../kv/types.ts';
import { GraftdClientError } from '../errors.ts';
import { WatchCompactedError, type WatchOptions, type WatchRevision } from '../watch.ts';

/** What the queue needs from the client. */
export interface QueueClient {
  txn(request: TxnRequest): Promise<TxnResult>;
  range(request: RangeRequest): Promise<RangeResult>;
  watchRevisions(options: WatchOptions): AsyncGenerator<WatchRevision, void, undefined>;
}

/** Attempts of the create when its outcome is unknown. */
const CREATE_ATTEMPTS = 3;
/** Keys per range page while reading a queue. */
const PAGE = 1000;

/** Create `key` (value, lease) unless it exists; resolves with its createRevision. */
export async function createOwnKey(client: QueueClient, key: string, value: string, lease: string): Promise<number> {
  const request: TxnRequest = {
    compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
    success: [{ put: { key, value, lease } }],
    failure: [{ get: { key } }],
  };
  for (let attempt = 1; ; attempt++) {
    let result: TxnResult;
    try {
      result = await client.txn(request);
    } catch (err) {
      if (err instanceof GraftdClientError && err.outcomeUnknown && attempt < CREATE_ATTEMPTS) continue;
      throw err;
    }
    if (result.succeeded) return result.revision;
    const got = result.results[0];
    const kv = got !== undefined && got.op === 'get' ? got.kvs[0] : undefined;
    if (kv === undefined || kv.lease !== lease)
      throw new GraftdClientError('GRAFTD_CONDITION_FAILED', `${key} exists and belongs to another lease (${kv?.lease ?? 'none'})`);
    return kv.createRevision;
  }
}

/** The keys of a queue, and a revision at which each of them existed (the page it was read in). */
export interface QueueEntry {
  readonly kv: KeyValue;
  readonly readAt: number;
}

/** Every key under `prefix`, page by page, and the revisions of the first and the last page. */
export async function readQueue(
  client: QueueClient,
  prefix: string,
  keysOnly: boolean,
): Promise<{ entries: QueueEntry[]; firstRevision: number; lastRevision: number }> {
  const entries: QueueEntry[] = [];
  let after: string | undefined;
  let firstRevision: number | undefined;
  for (;;) {
    const page = await client.range({ prefix, limit: PAGE, keysOnly, ...(after === undefined ? {} : { after }) });
    firstRevision ??= page.revision;
    for (const kv of page.kvs) entries.push({ kv, readAt: page.revision });
    if (!page.more || page.next === null) return { entries, firstRevision, lastRevision: page.revision };
    after = page.next;
  }
}

function aborted(signal: AbortSignal): never {
  throw signal.reason instanceof Error ? signal.reason : new DOMException('the wait was aborted', 'AbortError');
}

/**
 * Wait until `ownKey` (created at `ownRevision`) is the oldest key under `prefix`. Throws when our
 * own key disappears (the lease ended) or `signal` aborts (its reason).
 */
export async function waitForTurn(
  client: QueueClient,
  prefix: string,
  ownKey: string,
  ownRevision: number,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    if (signal.aborted) aborted(signal);
    const queue = (await readQueue(client, prefix, true)).entries;
    if (!queue.some((e) => e.kv.key === ownKey && e.kv.createRevision === ownRevision))
      throw new GraftdClientError('GRAFTD_LEASE_NOT_FOUND', `${ownKey} is gone while waiting (its lease ended)`);
    let predecessor: QueueEntry | undefined;
    for (const e of queue) {
      if (e.kv.createRevision < ownRevision && (predecessor === undefined || e.kv.createRevision > predecessor.kv.createRevision))
        predecessor = e;
    }
    if (predecessor === undefined) return;
    await waitForDelete(client, predecessor.kv.key, predecessor.readAt + 1, signal);
  }
}

/** Resolve once `key` is deleted at a revision ≥ `fromRevision` (or the history no longer reaches it: the caller re-reads). */
async function waitForDelete(client: QueueClient, key: string, fromRevision: number, signal: AbortSignal): Promise<void> {
  try {
    for await (const revision of client.watchRevisions({ key, fromRevision, signal })) {
      if (revision.events.some((e) => e.type === 'delete')) return;
    }
  } catch (err) {
    if (err instanceof WatchCompactedError) return;
    throw err;
  }
  if (signal.aborted) aborted(signal);
}
