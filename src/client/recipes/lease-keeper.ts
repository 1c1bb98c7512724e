/**
 * A lease kept alive in the background: the session under every recipe (lock, election,
 * registration), like etcd's concurrency.Session.
 *
 * Why a deadline timer of its own, apart from the keepalive calls: a keepalive that hangs (a
 * partition, a node stopped with SIGSTOP) must not delay the moment the holder learns it may have
 * lost the lease. The deadline is measured from when the last successful keepalive was *sent*
 * plus its TTL — never later than the server can expire it, since the server starts the TTL when
 * it applies the renewal, after we sent it. So `lost` fires at the latest when the lease may be
 * gone; a holder that stops acting on it then never acts on a lease another holder may own.
 */
import type { LeaseGrant, LeaseRevokeResult } from '../../kv/types.ts';
import { GraftdClientError } from '../errors.ts';

/** What a lease keeper needs from the client. */
export interface LeaseClient {
  leaseGrant(ttlSeconds: number): Promise<LeaseGrant>;
  leaseKeepAlive(id: string): Promise<LeaseGrant>;
  leaseRevoke(id: string): Promise<LeaseRevokeResult>;
}

export interface LeaseKeeperOptions {
  /** Lease TTL in seconds (the server raises it to its minimum). */
  readonly ttl: number;
  /** Keepalive period in ms. Default: a third of the granted TTL. */
  readonly keepAliveIntervalMs?: number;
  /** Delay before retrying a keepalive that failed without an answer. Default: min(500, interval). */
  readonly retryIntervalMs?: number;
}

/** Attempts of a revoke (it is idempotent: a second one answers "not found"). */
const REVOKE_ATTEMPTS = 3;

export class LeaseKeeper {
  readonly id: string;
  /** The granted TTL in seconds. */
  readonly ttl: number;
  /** Resolves (never rejects) with the reason when the lease is gone or may be gone. */
  readonly lost: Promise<GraftdClientError>;
  /** Aborted (reason: the same error) when the lease is lost. */
  readonly lostSignal: AbortSignal;
  readonly #client: LeaseClient;
  readonly #intervalMs: number;
  readonly #retryMs: number;
  readonly #lostController = new AbortController();
  #resolveLost: (err: GraftdClientError) => void = () => undefined;
  #timer: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(client: LeaseClient, grant: LeaseGrant, sentAt: number, options: LeaseKeeperOptions) {
    this.#client = client;
    this.id = grant.id;
    this.ttl = grant.ttl;
    this.#intervalMs = options.keepAliveIntervalMs ?? Math.max(1, Math.floor((grant.ttl * 1000) / 3));
    this.#retryMs = options.retryIntervalMs ?? Math.min(500, this.#intervalMs);
    this.lostSignal = this.#lostController.signal;
    this.lost = new Promise((resolve) => {
      this.#resolveLost = resolve;
    });
    this.#setDeadline(sentAt + grant.ttl * 1000);
    this.#schedule(this.#intervalMs);
  }

  /** Grant a lease and start keeping it alive. */
  static async grant(client: LeaseClient, options: LeaseKeeperOptions): Promise<LeaseKeeper> {
    if (!(Number.isSafeInteger(options.ttl) && options.ttl >= 1))
      throw new GraftdClientError('GRAFTD_CLIENT_BAD_ARGUMENT', `ttl must be a whole number of seconds ≥ 1, got ${options.ttl}`);
    const sentAt = Date.now();
    const grant = await client.leaseGrant(options.ttl);
    return new LeaseKeeper(client, grant, sentAt, options);
  }

  get isLost(): boolean {
    return this.#lostController.signal.aborted;
  }

  /** Stop the keepalives (the lease then expires after its TTL). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
  }

  /** Stop the keepalives and revoke the lease (its keys are deleted); a lease already gone is fine. */
  async revoke(): Promise<void> {
    this.stop();
    let last: unknown;
    for (let i = 0; i < REVOKE_ATTEMPTS; i++) {
      try {
        await this.#client.leaseRevoke(this.id);
        return;
      } catch (err) {
        if (err instanceof GraftdClientError && err.code === 'GRAFTD_LEASE_NOT_FOUND') return;
        last = err;
      }
    }
    throw last;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#renew(), ms);
  }

  async #renew(): Promise<void> {
    const sentAt = Date.now();
    try {
      const grant = await this.#client.leaseKeepAlive(this.id);
      if (this.#stopped) return;
      this.#setDeadline(sentAt + grant.ttl * 1000);
      this.#schedule(this.#intervalMs);
    } catch (err) {
      if (this.#stopped) return;
      // The client was closed: nothing can renew the lease any more.
      if (err instanceof GraftdClientError && err.code === 'GRAFTD_CLIENT_BAD_ARGUMENT') {
        this.#lose(err);
        return;
      }
      if (err instanceof GraftdClientError && err.code === 'GRAFTD_LEASE_NOT_FOUND') {
        this.#lose(
          new GraftdClientError('GRAFTD_LEASE_NOT_FOUND', `lease ${this.id} is gone (expired or revoked): ${err.message}`, { cause: err }),
        );
        return;
      }
      this.#schedule(this.#retryMs);
    }
  }

  #setDeadline(at: number): void {
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(
      () =>
        this.#lose(
          new GraftdClientError(
            'GRAFTD_CLIENT_TIMEOUT',
            `lease ${this.id} was not renewed within its TTL (${this.ttl} s); it may have expired`,
          ),
        ),
      Math.max(0, at - Date.now()),
    );
    this.#deadline.unref();
  }

  #lose(err: GraftdClientError): void {
    if (this.#lostController.signal.aborted) return;
    this.stop();
    this.#lostController.abort(err);
    this.#resolveLost(err);
  }
}
