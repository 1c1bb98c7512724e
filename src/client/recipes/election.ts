/**
 * Leader election on leases, transactions and watches (etcd's concurrency.Election, in graftd's API).
 *
 * How: a campaign is a lock whose key carries a value — the candidate's `<election>/<leaseId>`
 * with its value (an address, a name); the oldest key by create revision is the leader. Observers
 * follow the keys under `<election>/` and report the oldest one's value whenever it changes. The
 * leader may change its value (proclaim) with a transaction that only writes while its own key is
 * still the one it created; resigning revokes the lease, which hands over to the next candidate.
 */
import { GraftdClientError } from '../errors.ts';
import { LeaseKeeper, type LeaseClient } from './lease-keeper.ts';
import { followPrefix, type PrefixEntry } from './prefix-state.ts';
import { createOwnKey, type QueueClient, waitForTurn } from './queue.ts';

/** Options of {@link GraftdClient.campaign}. */
export interface CampaignOptions {
  /** Lease TTL in seconds: how long leadership outlives a leader that stopped renewing. Default 10. */
  readonly ttl?: number;
  /** Abort the campaign (the candidacy is withdrawn; the call rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Called once if the lease is lost while leading. */
  readonly onLost?: (err: GraftdClientError) => void;
  /** Keepalive period in ms. Default: a third of the granted TTL. */
  readonly keepAliveIntervalMs?: number;
  /** Called once this contender's key exists (it is in the queue), before the wait: its key and create revision. */
  readonly onQueued?: (key: string, revision: number) => void;
}

/** Leadership won by {@link GraftdClient.campaign}. */
export interface Leadership {
  readonly election: string;
  /** The leader's key, `<election>/<leaseId>`. */
  readonly key: string;
  readonly lease: string;
  /** The key's create revision: larger for every later leader (a fencing token). */
  readonly revision: number;
  /** The value last proclaimed. */
  readonly value: string;
  /** Resolves when the lease was lost (someone else may lead from then on); never rejects. */
  readonly lost: Promise<GraftdClientError>;
  readonly isLost: boolean;
  /** Change the leader's value; throws GRAFTD_CONDITION_FAILED when this candidate no longer leads. */
  proclaim(value: string): Promise<void>;
  /** Give up leadership (revoke the lease): the next candidate takes over. */
  resign(): Promise<void>;
}

/** The current leader as observers see it. */
export interface ElectionLeader {
  readonly key: string;
  readonly value: string;
  /** Its key's create revision. */
  readonly revision: number;
}

export type ElectionClient = LeaseClient & QueueClient;

/** Campaign in `election` with `value`: resolves once this candidate leads. */
export async function campaign(
  client: ElectionClient,
  election: string,
  value: string,
  options: CampaignOptions = {},
): Promise<Leadership> {
  const keeper = await LeaseKeeper.grant(client, {
    ttl: options.ttl ?? 10,
    ...(options.keepAliveIntervalMs === undefined ? {} : { keepAliveIntervalMs: options.keepAliveIntervalMs }),
  });
  const key = `${election}/${keeper.id}`;
  try {
    const revision = await createOwnKey(client, key, value, keeper.id);
    options.onQueued?.(key, revision);
    const signal = options.signal === undefined ? keeper.lostSignal : AbortSignal.any([keeper.lostSignal, options.signal]);
    await waitForTurn(client, `${election}/`, key, revision, signal);
    if (keeper.isLost) throw keeper.lostSignal.reason;
    void keeper.lost.then((err) => options.onLost?.(err));
    let current = value;
    return {
      election,
      key,
      lease: keeper.id,
      revision,
      get value() {
        return current;
      },
      lost: keeper.lost,
      get isLost() {
        return keeper.isLost;
      },
      proclaim: async (next: string) => {
        const result = await client.txn({
          compare: [{ key, target: 'createRevision', op: '=', value: revision }],
          success: [{ put: { key, value: next, lease: keeper.id } }],
          failure: [],
        });
        if (!result.succeeded)
          throw new GraftdClientError('GRAFTD_CONDITION_FAILED', `${key} is gone: this candidate no longer leads ${election}`);
        current = next;
      },
      resign: () => keeper.revoke(),
    };
  } catch (err) {
    await keeper.revoke().catch(() => undefined);
    throw err;
  }
}

function leaderOf(entries: ReadonlyMap<string, PrefixEntry>): ElectionLeader | null {
  let best: PrefixEntry | undefined;
  for (const e of entries.values()) if (best === undefined || e.createRevision < best.createRevision) best = e;
  return best === undefined ? null : { key: best.key, value: best.value, revision: best.createRevision };
}

/**
 * The leader of `election` now and after every change: its value, or null while nobody
 * campaigns. Consecutive duplicates are left out. Ends when `signal` aborts.
 */
export async function* observeElection(
  client: QueueClient,
  election: string,
  signal: AbortSignal,
): AsyncGenerator<ElectionLeader | null, void, undefined> {
  let last: ElectionLeader | null | undefined;
  for await (const state of followPrefix(client, `${election}/`, signal)) {
    const leader = leaderOf(state.entries);
    if (last !== undefined && leader?.key === last?.key && leader?.value === last?.value) continue;
    last = leader;
    yield leader;
  }
}
