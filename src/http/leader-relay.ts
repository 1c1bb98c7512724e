/**
 * HTTP relay: sends a request that needs the leader to the leader's HTTP address and relays the
 * answer. (Named by its mechanism, issue 12: writes and reads of a graftd node travel over the raft
 * transport instead — src/transport/fwd-calls.ts; this relay carries what that does not: membership
 * changes, /snapshot, and every leader-only request of a GraftNode that does not forward itself.)
 *
 * Why a raw undici dispatch handler instead of `request()`: the chaos checker must know
 * whether a failed forward could have had an effect. undici calls `onConnect` right before it
 * writes the request to a connected socket, so an error before `onConnect` proves the request
 * never left this node (→ 503 GRAFTD_NO_LEADER, safe to retry) while an error after it leaves
 * the outcome unknown (→ 504 GRAFTD_TIMEOUT). One bounded pool of keep-alive connections per
 * leader address; a bounded number of forwards in flight.
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { GraftdError, ProposalDroppedError } from '../errors.ts';
import type { ClientTls } from '../security/http-security.ts';

/** The marker header of a forwarded request; its value is the forwarding node's id. */
export const forwardedHeader = 'x-graftd-forwarded';

export interface LeaderRelayOptions {
  /** This node's id (sent in the marker header). */
  readonly selfId: string;
  /** Max wait for the leader's answer once the request was sent, and max wait for a free connection before sending. */
  readonly timeoutMs: number;
  /** Max time to establish a TCP connection to the leader. */
  readonly connectTimeoutMs: number;
  /** Keep-alive connections per leader address. */
  readonly connectionsPerLeader: number;
  /** Forwards in flight at once (beyond: 503, not sent). */
  readonly maxInflight: number;
  /** Max bytes of a relayed response body. */
  readonly maxResponseBytes: number;
  /** Pools kept at once (one per leader address seen recently). */
  readonly maxPools: number;
  /**
   * Local address for connections to the leader: this node's own host, so that per-address
   * firewall rules (a real partition, or the chaos harness's iptables rules) cut forwarded
   * requests exactly as they cut raft traffic. Undefined lets the OS choose (wildcard listeners).
   */
  readonly localAddress?: string;
  /**
   * TLS for connections to the leader (its HTTP API speaks HTTPS): the CA that signs members'
   * certificates, and our own certificate when members require client certificates. Asked for
   * each new pool, so a reload (then `resetConnections()`) switches to the new files.
   */
  readonly clientTls?: () => ClientTls | undefined;
}

export interface RelayRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query, as received. */
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: Buffer | undefined;
  /**
   * The client's Authorization header, relayed as is: the leader checks the same credentials
   * again, so a follower can never be used to do more than the client itself may.
   */
  readonly authorization?: string | undefined;
}

export interface RelayResponse {
  readonly status: number;
  /** Relayed headers (lower-case names), end-to-end ones only. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Response headers relayed from the leader (hop-by-hop and framing headers are not). */
const relayedHeaders: ReadonlySet<string> = new Set([
  'content-type',
  'retry-after',
  'allow',
  'content-disposition',
  'x-graftd-node',
  'x-graftd-leader',
  // The store's revision of a key or lease answer (issue 13).
  'x-graftd-revision',
]);

function noLeader(message: string, cause?: unknown): GraftdError {
  return new GraftdError('GRAFTD_NO_LEADER', message, { cause });
}

/** Relays requests to the leader with undici; see the module comment for the outcome rules. */
export class LeaderRelay {
  readonly #opts: LeaderRelayOptions;
  readonly #pools = new Map<string, Pool>();
  #inflight = 0;
  #closed = false;

  constructor(opts: LeaderRelayOptions) {
    this.#opts = opts;
  }

  /** Requests being forwarded right now. */
  get inflight(): number {
    return this.#inflight;
  }

  /**
   * Send `req` to the leader at `leaderAddr` (host:port or http://host:port).
   * Resolves with the leader's answer whatever its status; rejects with 503 GRAFTD_NO_LEADER when
   * the request provably was not sent, 504 GRAFTD_TIMEOUT when it was sent and no complete answer came.
   */
  async send(leaderAddr: string, req: RelayRequest): Promise<RelayResponse> {
    if (this.#closed) throw new GraftdError('GRAFTD_SHUTTING_DOWN', 'the HTTP server is shutting down; request not forwarded');
    if (this.#inflight >= this.#opts.maxInflight) {
      throw new ProposalDroppedError(
        `${this.#inflight} requests are already being forwarded to the leader (limit ${this.#opts.maxInflight})`,
      );
    }
    const pool = this.#pool(leaderAddr);
    this.#inflight++;
    try {
      return await this.#dispatch(pool, leaderAddr, req);
    } finally {
      this.#inflight--;
    }
  }

  /** Drop the pooled connections (after a TLS reload); forwards in flight finish on their old connection. */
  resetConnections(): void {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    for (const pool of pools) pool.close().catch(() => undefined);
  }

  /** Close every pool (in-flight forwards fail). */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }

  #pool(leaderAddr: string): Pool {
    const clientTls = this.#opts.clientTls?.();
    const hostPort = leaderAddr.replace(/^https?:\/\//, '');
    const origin = `${clientTls === undefined ? 'http' : 'https'}://${hostPort}`;
    let pool = this.#pools.get(origin);
    if (pool !== undefined) return pool;
    while (this.#pools.size >= this.#opts.maxPools) {
      const oldest = this.#pools.keys().next().value as string;
      const old = this.#pools.get(oldest);
      this.#pools.delete(oldest);
      old?.close().catch(() => undefined);
    }
    pool = new Pool(origin, {
      connections: this.#opts.connectionsPerLeader,
      pipelining: 1,
      // Drop idle sockets well before the leader's server would (fastify: 72 s), so a request is
      // rarely written to a socket the server is closing (that would be a spurious 504).
      keepAliveTimeout: 4000,
      keepAliveMaxTimeout: 10_000,
      connectTimeout: this.#opts.connectTimeoutMs,
      ...(this.#opts.localAddress === undefined ? {} : { localAddress: this.#opts.localAddress }),
      headersTimeout: this.#opts.timeoutMs,
      bodyTimeout: this.#opts.timeoutMs,
      ...(clientTls === undefined ? {} : { connect: { ...clientTls } }),
    });
    this.#pools.set(origin, pool);
    return pool;
  }

  #dispatch(pool: Pool, leaderAddr: string, req: RelayRequest): Promise<RelayResponse> {
    const { selfId, timeoutMs, maxResponseBytes } = this.#opts;
    return new Promise<RelayResponse>((resolve, reject) => {
      let sent = false;
      let settled = false;
      let abandoned = false;
      let status = 0;
      let bytes = 0;
      const headers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      let abortRequest: ((err?: Error) => void) | undefined;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(queueTimer);
        fn();
      };
      // Waiting for a free connection counts against the timeout too; a request abandoned before
      // it was written is never written (onConnect aborts it), so the answer is a safe 503.
      const queueTimer = setTimeout(() => {
        if (sent) return; // undici's headers/body timeouts cover the rest
        abandoned = true;
        settle(() => reject(noLeader(`no connection to the leader at ${leaderAddr} became free within ${timeoutMs} ms; request not sent`)));
      }, timeoutMs);
      const handler: Dispatcher.DispatchHandlers = {
        onConnect(abort) {
          if (abandoned) {
            abort();
            return;
          }
          sent = true;
          abortRequest = abort;
        },
        onHeaders(statusCode, rawHeaders) {
          status = statusCode;
          for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
            const name = rawHeaders[i]!.toString('latin1').toLowerCase();
            if (relayedHeaders.has(name)) headers[name] = rawHeaders[i + 1]!.toString('latin1');
          }
          return true;
        },
        onData(chunk) {
          bytes += chunk.length;
          if (bytes > maxResponseBytes) {
            const err = new GraftdError(
              'GRAFTD_INTERNAL',
              `the leader's answer exceeded ${maxResponseBytes} bytes; relaying aborted (the request was processed)`,
            );
            settle(() => reject(err));
            abortRequest?.(err);
            return false;
          }
          chunks.push(chunk);
          return true;
        },
        onComplete() {
          settle(() => resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
        },
        onError(err) {
          settle(() => {
            if (!sent) {
              reject(noLeader(`could not reach the leader at ${leaderAddr} (${describeError(err)}); request not sent`, err));
            } else {
              reject(
                new GraftdError(
                  'GRAFTD_TIMEOUT',
                  `forwarded to the leader at ${leaderAddr} but got no complete answer (${describeError(err)}); the outcome is unknown (it may still be applied)`,
                  { cause: err },
                ),
              );
            }
          });
        },
      };
      const requestHeaders: Record<string, string> = { [forwardedHeader]: selfId };
      if (req.contentType !== undefined) requestHeaders['content-type'] = req.contentType;
      if (req.authorization !== undefined) requestHeaders.authorization = req.authorization;
      pool.dispatch({ method: req.method, path: req.path, headers: requestHeaders, body: req.body ?? null }, handler);
    });
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
