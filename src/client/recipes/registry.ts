/**
 * Service registration with expiring entries, and discovery (list + watch).
 *
 * How: an instance puts `<service>/<instance>` with a lease it keeps alive; a crashed instance
 * stops renewing and its entry disappears when the lease expires; close() revokes the lease,
 * removing the entry at once. Discovery reads the entries under `<service>/` and follows them.
 *
 * Why a registration re-registers itself: unlike a lock, an entry has no exclusivity to lose. If
 * its lease is lost (a partition longer than the TTL), the instance is still alive and should be
 * found again, so it grants a new lease and puts the entry again (with backoff) until closed.
 */
import type { LeaseGrant, RangeRequest, RangeResult, TxnRequest, TxnResult } from '../../kv/types.ts';
import { backoffMs, sleep } from '../backoff.ts';
import { GraftdClientError } from '../errors.ts';
import type { WatchOptions, WatchRevision } from '../watch.ts';
import { type LeaseClient, LeaseKeeper } from './lease-keeper.ts';
import { followPrefix } from './prefix-state.ts';

/** What registration and discovery need from the client. */
export interface RegistryClient extends LeaseClient {
  put(key: string, value: string, options: { lease: string }): Promise<{ revision: number }>;
  txn(request: TxnRequest): Promise<TxnResult>;
  range(request: RangeRequest): Promise<RangeResult>;
  watchRevisions(options: WatchOptions): AsyncGenerator<WatchRevision, void, undefined>;
  leaseGrant(ttlSeconds: number): Promise<LeaseGrant>;
}

/** Options of {@link GraftdClient.register}. */
export interface RegisterOptions {
  /** Lease TTL in seconds: how long the entry outlives a crashed instance. Default 10. */
  readonly ttl?: number;
  /** The entry's value (an address, JSON…). Default ''. */
  readonly value?: string;
  /** Called when the lease was lost and the entry is being registered again. */
  readonly onLost?: (err: GraftdClientError) => void;
  /** Keepalive period in ms. Default: a third of the granted TTL. */
  readonly keepAliveIntervalMs?: number;
}

/** A registered instance. */
export interface Registration {
  readonly service: string;
  readonly instance: string;
  readonly key: string;
  /** The lease the entry is attached to now (changes when it had to register again). */
  readonly lease: string;
  /** Remove the entry (revoke the lease) and stop renewing. */
  close(): Promise<void>;
}

/** One instance as discovery reports it. */
export interface ServiceInstance {
  readonly instance: string;
  readonly value: string;
}

/** Longest wait between two attempts to register again. */
const REREGISTER_MAX_MS = 5000;

/** Register `instance` of `service`: resolves once the entry is written. */
export async function register(
  client: RegistryClient,
  service: string,
  instance: string,
  options: RegisterOptions = {},
): Promise<Registration> {
  const key = `${service}/${instance}`;
  const value = options.value ?? '';
  const leaseOptions = {
    ttl: options.ttl ?? 10,
    ...(options.keepAliveIntervalMs === undefined ? {} : { keepAliveIntervalMs: options.keepAliveIntervalMs }),
  };
  let closed = false;
  const grantAndPut = async (): Promise<LeaseKeeper> => {
    const keeper = await LeaseKeeper.grant(client, leaseOptions);
    try {
      await client.put(key, value, { lease: keeper.id });
    } catch (err) {
      await keeper.revoke().catch(() => undefined);
      throw err;
    }
    return keeper;
  };
  let keeper = await grantAndPut();
  const watchLoss = (k: LeaseKeeper): void => {
    void k.lost.then(async (err) => {
      if (closed) return;
      options.onLost?.(err);
      for (let attempt = 0; !closed; attempt++) {
        try {
          const next = await grantAndPut();
          if (closed) return void (await next.revoke().catch(() => undefined));
          keeper = next;
          watchLoss(next);
          return;
        } catch (failure) {
          // A closed client cannot register again.
          if (failure instanceof GraftdClientError && failure.code === 'GRAFTD_CLIENT_BAD_ARGUMENT') return;
          await sleep(backoffMs(attempt, 200, REREGISTER_MAX_MS));
        }
      }
    });
  };
  watchLoss(keeper);
  return {
    service,
    instance,
    key,
    get lease() {
      return keeper.id;
    },
    close: async () => {
      closed = true;
      await keeper.revoke();
    },
  };
}

/**
 * The instances of `service` now and after every change (sorted by instance name). Ends when
 * `signal` aborts.
 */
export async function* discover(
  client: RegistryClient,
  service: string,
  signal: AbortSignal,
): AsyncGenerator<ServiceInstance[], void, undefined> {
  const prefix = `${service}/`;
  for await (const state of followPrefix(client, prefix, signal)) {
    const list = [...state.entries.values()]
      .map((e) => ({ instance: e.key.slice(prefix.length), value: e.value }))
      .sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
    yield list;
  }
}
