/**
 * A distributed lock on leases, transactions and watches (etcd's concurrency.Mutex, in graftd's API).
 *
 * How: grant a lease kept alive every ttl/3; create `<name>/<leaseId>` with it (queue.ts); wait
 * until no key under `<name>/` has an older create revision, watching only the next-older one.
 * Releasing revokes the lease, which deletes the key in one revision and wakes the next waiter.
 * A holder whose process dies stops renewing; its key goes when the lease expires.
 *
 * Why a fencing token: a lock on leases is only advisory — a holder paused for longer than its TTL
 * (GC, SIGSTOP, a partition) still believes it holds the lock after it expired. The token (the
 * own key's create revision) grows with every new holder; a resource that refuses requests with a
 * token lower than the highest it has seen is safe against such a stale holder.
 */
import type { GraftdClientError } from '../errors.ts';
import { LeaseKeeper, type LeaseClient } from './lease-keeper.ts';
import { createOwnKey, type QueueClient, waitForTurn } from './queue.ts';

/** Options of {@link GraftdClient.lock}. */
export interface LockOptions {
  /** Lease TTL in seconds: how long the lock outlives a holder that stopped renewing. Default 10. */
  readonly ttl?: number;
  /** Abort the wait for the lock (the queued key is removed; the call rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Called once if the lease is lost while the lock is held (keepalives failed past the TTL, or the lease was revoked). */
  readonly onLost?: (err: GraftdClientError) => void;
  /** Keepalive period in ms. Default: a third of the granted TTL. */
  readonly keepAliveIntervalMs?: number;
  /** Called once this contender's key exists (it is in the queue), before the wait: its key and create revision. */
  readonly onQueued?: (key: string, revision: number) => void;
}

/** A held lock. */
export interface Lock {
  readonly name: string;
  /** The holder's key, `<name>/<leaseId>`. */
  readonly key: string;
  readonly lease: string;
  /** The key's create revision: larger for every later holder of this lock. */
  readonly fencingToken: number;
  /** Resolves when the lease was lost (the lock may be someone else's from then on); never rejects. */
  readonly lost: Promise<GraftdClientError>;
  /** True once the lease was lost. */
  readonly isLost: boolean;
  /** Release the lock (revoke the lease). */
  release(): Promise<void>;
}

export type LockClient = LeaseClient & QueueClient;

/** Take the lock `name`: resolves once held. */
export async function acquireLock(client: LockClient, name: string, options: LockOptions = {}): Promise<Lock> {
  const keeper = await LeaseKeeper.grant(client, {
    ttl: options.ttl ?? 10,
    ...(options.keepAliveIntervalMs === undefined ? {} : { keepAliveIntervalMs: options.keepAliveIntervalMs }),
  });
  const key = `${name}/${keeper.id}`;
  try {
    const fencingToken = await createOwnKey(client, key, '', keeper.id);
    options.onQueued?.(key, fencingToken);
    const signal = options.signal === undefined ? keeper.lostSignal : AbortSignal.any([keeper.lostSignal, options.signal]);
    await waitForTurn(client, `${name}/`, key, fencingToken, signal);
    if (keeper.isLost) throw keeper.lostSignal.reason;
    void keeper.lost.then((err) => options.onLost?.(err));
    return {
      name,
      key,
      lease: keeper.id,
      fencingToken,
      lost: keeper.lost,
      get isLost() {
        return keeper.isLost;
      },
      release: () => keeper.revoke(),
    };
  } catch (err) {
    await keeper.revoke().catch(() => undefined);
    throw err;
  }
}
