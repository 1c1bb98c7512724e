/**
 * GraftdClient: the library graftctl, the tests, the benchmarks and the chaos harness use.
 *
 * Why a library and not bare HTTP calls: every caller needs the same hard parts — trying the
 * endpoints in turn, following the leader, retrying only what provably had no effect, and
 * reporting "outcome unknown" honestly instead of a false failure or a false success.
 */
import type { ErrorCode } from '../errors.ts';
import type { MemberView, NodeStatus, ReadLevel } from '../node/api.ts';
import { type AttemptAnswer, type AttemptRequest, type AttemptVia, attempt } from './attempt.ts';
import { backoffMs, sleep } from './backoff.ts';
import { authorizationHeader, checkTlsMaterial, type GraftdClientAuth, type GraftdClientTls } from './credentials.ts';
import { normalizeEndpoint, parseEndpoints, reachableEndpoint, schemeOf } from './endpoints.ts';
import { GraftdClientError } from './errors.ts';
import { Coordination, type PutOptions, type WriteConditions } from './coordination.ts';
import type { KeyValue, LeaseGrant, LeaseInfo, LeaseRevokeResult, RangeRequest, RangeResult, TxnRequest, TxnResult } from '../kv/types.ts';
import { Liveness } from './liveness.ts';
import { HttpTransport } from './transport.ts';
import { type WatchDeps, type WatchEvent, type WatchOptions, type WatchRevision, watchChanges, watchRevisions } from './watch.ts';
import {
  type CampaignOptions,
  campaign,
  type ElectionLeader,
  type Leadership,
  observeElection as electionLeaders,
} from './recipes/election.ts';
import { acquireLock, type Lock, type LockOptions } from './recipes/lock.ts';
import { discover, type RegisterOptions, type Registration, register, type ServiceInstance } from './recipes/registry.ts';

/** Options of {@link GraftdClient}. */
export interface GraftdClientOptions {
  /**
   * Some cluster members (any subset; the leader is found from there), as `host:port`,
   * `http://host:port` or `https://host:port`. Member addresses learned from the cluster are
   * reached with the same scheme.
   */
  readonly endpoints: readonly string[];
  /**
   * TLS material as PEM contents (not file names): `ca` replaces the system CAs for checking the
   * servers' certificates; `cert` + `key` are presented when a server asks for a client
   * certificate. Given (even `{}`) → every endpoint is reached over https. Default: none.
   */
  readonly tls?: GraftdClientTls;
  /** Credentials sent on every request: HTTP Basic (`user`, `password`) or a bearer `token`. Default: none. */
  readonly auth?: GraftdClientAuth;
  /**
   * Longest wait, on a new TLS 1.3 connection, for the server to accept the handshake before the
   * first request is sent (so a refused client certificate is a clear "not sent" error, see
   * tls-connector.ts); 0 disables it. Default: connectTimeoutMs.
   */
  readonly tlsAcceptWaitMs?: number;
  /** Time allowed for one attempt (connect + request + answer). Default 15000: above the server's own request timeout (10 s), so its 504 normally arrives first. */
  readonly timeoutMs?: number;
  /** Extra attempts after the first, across endpoints, for failures that provably had no effect. Default 8. */
  readonly retries?: number;
  /** First retry delay; doubles per retry (with jitter). Default 50. */
  readonly backoffBaseMs?: number;
  /** Cap on one retry delay. Default 1000. */
  readonly backoffMaxMs?: number;
  /** TCP connect timeout (capped at timeoutMs). Default 1000. */
  readonly connectTimeoutMs?: number;
  /**
   * Before the first request to an endpoint (and again once its last answer is older than
   * probeFreshMs), send GET /healthz with this timeout; an endpoint that does not answer is
   * skipped (the request was never sent to it, so a write moves on safely) and tried last. The
   * probes of all endpoints start in parallel, so a hung first endpoint costs about one round
   * trip, not this timeout. 0 disables probing. Default 0 (graftctl uses 1000).
   */
  readonly probeTimeoutMs?: number;
  /** How long an answer (or a failed probe) is trusted before the endpoint is probed again. Default 5000. */
  readonly probeFreshMs?: number;
  /** Max keep-alive connections per endpoint. Default 32. */
  readonly connectionsPerEndpoint?: number;
  /** How long an idle keep-alive connection is kept. Default 4000. */
  readonly keepAliveTimeoutMs?: number;
}

/** Counters since the client was created (for load generators and tests that report numbers). */
export interface GraftdClientStats {
  /** Calls that went through the retry loop (every method except status(endpoint)). */
  readonly requests: number;
  /** HTTP attempts made for them. */
  readonly attempts: number;
  /** Attempts that moved on from an endpoint that refused the connection or reset it before reading the request. */
  readonly notSent: number;
  /** Attempts answered 503 (or 409 change in progress), then retried. */
  readonly retriedAnswers: number;
}

/** How a request may be retried. */
type RequestKind =
  /** Reads: any failure may be retried. */
  | 'read'
  /** Writes: retried only when provably not applied (unreachable, 503). */
  | 'write'
  /** Membership changes: like writes, and 409 "change in progress" is retried too. */
  | 'membership';

interface ServerErrorBody {
  readonly error: string;
  readonly code: string;
}

const SERVER_CODE = /^GRAFTD_[A-Z_]+$/;

function parseErrorBody(text: string): ServerErrorBody | null {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') {
      const { error, code } = parsed as { error?: unknown; code?: unknown };
      if (typeof error === 'string' && typeof code === 'string') return { error, code };
    }
  } catch {
    // not JSON: handled by the caller
  }
  return null;
}

function parseJson(answer: AttemptAnswer): unknown {
  try {
    return JSON.parse(answer.text);
  } catch {
    throw new GraftdClientError(
      'GRAFTD_CLIENT_BAD_RESPONSE',
      `${answer.endpoint}: expected a JSON body, got ${JSON.stringify(answer.text.slice(0, 80))}`,
      {
        status: answer.status,
        endpoint: answer.endpoint,
      },
    );
  }
}

/** What a 401 / 403 means for the caller, added to the server's message. */
function authHint(status: number, authGiven: boolean): string {
  if (status === 401)
    return authGiven ? ' (the credentials were refused)' : ' (the cluster requires credentials: a user and password, or a token)';
  if (status === 403) return ' (the credentials are valid, but their role does not allow this)';
  return '';
}

/**
 * The error an HTTP error answer stands for. 503 and 4xx provably had no effect; 504 and other
 * 5xx did not. 401 / 403 keep their meaning (GRAFTD_UNAUTHORIZED / GRAFTD_FORBIDDEN) even when a
 * proxy answered them without graftd's body.
 */
function answerError(answer: AttemptAnswer, authGiven = false): GraftdClientError {
  const body = parseErrorBody(answer.text);
  const fallback =
    answer.status === 401 ? 'GRAFTD_UNAUTHORIZED' : answer.status === 403 ? 'GRAFTD_FORBIDDEN' : 'GRAFTD_CLIENT_BAD_RESPONSE';
  const code = body !== null && SERVER_CODE.test(body.code) ? (body.code as ErrorCode) : fallback;
  const message = body?.error ?? `HTTP ${answer.status}${answer.text === '' ? '' : `: ${answer.text.slice(0, 120)}`}`;
  return new GraftdClientError(code, `${answer.endpoint}: ${message}${authHint(answer.status, authGiven)}`, {
    status: answer.status,
    outcomeUnknown: answer.status >= 500 && answer.status !== 503,
    endpoint: answer.endpoint,
  });
}

/** Where to reach the leader named in `status` ('' when unknown). */
export function leaderEndpointOf(status: NodeStatus, via: string): string {
  if (status.leaderId === '') return '';
  const member = status.members.find((m) => m.id === status.leaderId);
  return reachableEndpoint(status.leaderHttpAddr === '' ? (member?.httpAddr ?? '') : status.leaderHttpAddr, member?.raftAddr ?? '', via);
}

const RETRYABLE_CONFLICTS = new Set(['GRAFTD_CONF_CHANGE_IN_PROGRESS', 'GRAFTD_TRANSFER_IN_PROGRESS']);

/**
 * A client for a graftd cluster. Keep one per process and call {@link close} when done.
 *
 * @example
 * const client = new GraftdClient({ endpoints: ['127.0.0.1:11000', '127.0.0.1:11001'] });
 * await client.set({ user: 'kj' });
 * const value = await client.get('user'); // 'kj'
 * await client.close();
 */
export class GraftdClient {
  private readonly endpoints: readonly string[];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly transport: HttpTransport;
  /** Scheme and credentials of every attempt. */
  private readonly via: AttemptVia;
  /** Index into `endpoints` of the one that answered last (tried first next time). */
  private preferred = 0;
  /** The leader's endpoint when known (may be outside `endpoints`: followed from the cluster's answers). */
  private leaderEndpoint = '';
  private leaderId = '';
  /** Member id → HTTP endpoint, learned from /status. */
  private readonly endpointById = new Map<string, string>();
  private refreshing: Promise<void> | null = null;
  private lastRefreshMs = 0;
  private closed = false;
  private readonly counters = { requests: 0, attempts: 0, notSent: 0, retriedAnswers: 0 };
  /** Null when probing is off. */
  private readonly liveness: Liveness | null;

  constructor(options: GraftdClientOptions) {
    this.endpoints = parseEndpoints(options.endpoints);
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.retries = options.retries ?? 8;
    this.backoffBaseMs = options.backoffBaseMs ?? 50;
    this.backoffMaxMs = options.backoffMaxMs ?? 1000;
    if (!(this.timeoutMs > 0) || !(this.retries >= 0) || !Number.isInteger(this.retries)) {
      throw new GraftdClientError(
        'GRAFTD_CLIENT_BAD_ARGUMENT',
        `timeoutMs must be > 0 and retries an integer >= 0; got ${this.timeoutMs} and ${this.retries}`,
      );
    }
    const probeTimeoutMs = options.probeTimeoutMs ?? 0;
    const probeFreshMs = options.probeFreshMs ?? 5000;
    if (!(probeTimeoutMs >= 0) || !(probeFreshMs >= 0)) {
      throw new GraftdClientError(
        'GRAFTD_CLIENT_BAD_ARGUMENT',
        `probeTimeoutMs and probeFreshMs must be >= 0; got ${probeTimeoutMs}, ${probeFreshMs}`,
      );
    }
    const connectTimeoutMs = Math.min(options.connectTimeoutMs ?? 1000, this.timeoutMs);
    const scheme = schemeOf(options.endpoints, options.tls !== undefined);
    this.via = { scheme, authorization: options.auth === undefined ? '' : authorizationHeader(options.auth) };
    const tls = options.tls ?? {};
    if (scheme === 'https') checkTlsMaterial(tls);
    this.transport = new HttpTransport({
      scheme,
      connectTimeoutMs,
      connectionsPerEndpoint: options.connectionsPerEndpoint ?? 32,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 4000,
      tls: { ...tls, acceptWaitMs: options.tlsAcceptWaitMs ?? connectTimeoutMs },
    });
    this.liveness =
      probeTimeoutMs > 0 ? new Liveness((endpoint, signal) => this.probe(endpoint, probeTimeoutMs, signal), probeFreshMs) : null;
  }

  /** GET /healthz on `endpoint` within `timeoutMs`: null when it answered (any status), else the reason, as "not sent". */
  private async probe(endpoint: string, timeoutMs: number, signal: AbortSignal): Promise<GraftdClientError | null> {
    try {
      // /healthz needs no credentials: none are sent (a password is not shown to more requests than needed).
      const via = { ...this.via, authorization: '' };
      await attempt(this.transport, endpoint, { method: 'GET', path: '/healthz' }, Math.min(timeoutMs, this.timeoutMs), via, signal);
      return null;
    } catch (err) {
      if (!(err instanceof GraftdClientError)) throw err;
      if (err.code === 'GRAFTD_CLIENT_UNREACHABLE' || err.code === 'GRAFTD_CLIENT_TLS') return err;
      const why = err.code === 'GRAFTD_CLIENT_TIMEOUT' ? `no answer to a health probe within ${timeoutMs} ms (hung?)` : err.message;
      return new GraftdClientError('GRAFTD_CLIENT_UNREACHABLE', `${endpoint}: ${why.replace(`${endpoint}: `, '')}; skipped`, {
        endpoint,
        cause: err,
      });
    }
  }

  /** One attempt, skipping an endpoint that did not answer its probe (thrown as a not-sent error). */
  private async send(endpoint: string, request: AttemptRequest): Promise<AttemptAnswer> {
    if (this.liveness !== null) {
      const dead = await this.liveness.check(endpoint);
      if (dead !== null) throw dead;
    }
    try {
      const answer = await attempt(this.transport, endpoint, request, this.timeoutMs, this.via);
      this.liveness?.answered(endpoint);
      return answer;
    } catch (err) {
      if (err instanceof GraftdClientError && err.code !== 'GRAFTD_CLIENT_TLS') this.liveness?.failed(endpoint, err);
      throw err;
    }
  }

  /** Read `key` at `level` (default linearizable). Resolves undefined when the key does not exist. */
  async get(key: string, level: ReadLevel = 'linearizable'): Promise<string | undefined> {
    const path = `/key/${encodeURIComponent(key)}${level === 'linearizable' ? '' : `?level=${level}`}`;
    const answer = await this.exchange({ method: 'GET', path }, 'read', ['GRAFTD_KEY_NOT_FOUND']);
    if (answer.status === 404) return undefined;
    const body = parseJson(answer);
    const value = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[key] : undefined;
    if (typeof value !== 'string') {
      throw new GraftdClientError(
        'GRAFTD_CLIENT_BAD_RESPONSE',
        `${answer.endpoint}: expected {"${key}": "<value>"}, got ${answer.text.slice(0, 80)}`,
        {
          status: answer.status,
          endpoint: answer.endpoint,
        },
      );
    }
    return value;
  }

  /** Set every pair atomically (one log entry). Resolves once applied. */
  async set(pairs: Readonly<Record<string, string>>): Promise<void> {
    await this.exchange({ method: 'POST', path: '/key', body: JSON.stringify(pairs) }, 'write');
  }

  /** Delete `key` (succeeds also when it did not exist). */
  async del(key: string): Promise<void> {
    await this.exchange({ method: 'DELETE', path: `/key/${encodeURIComponent(key)}` }, 'write');
  }

  // Coordination (issue 13): revisions, ranges, conditional writes, transactions, leases. The
  // requests are built in coordination.ts and sent through exchange() with its retry rules.
  private coordination: Coordination | null = null;
  private get coord(): Coordination {
    this.coordination ??= new Coordination((request, kind, acceptCodes) => this.exchange(request, kind, acceptCodes));
    return this.coordination;
  }
  /** `key` with its metadata (`kv` undefined when absent) and the revision read at. */
  getMeta(key: string, level: ReadLevel = 'linearizable'): Promise<{ kv: KeyValue | undefined; revision: number }> {
    return this.coord.getMeta(key, level);
  }
  /** One page of a range read (GET /keys). */
  range(request: RangeRequest, level: ReadLevel = 'linearizable'): Promise<RangeResult> {
    return this.coord.range(request, level);
  }
  /** Every key of a range, one page per request. */
  rangeAll(request: RangeRequest, level: ReadLevel = 'linearizable'): AsyncGenerator<KeyValue, void, undefined> {
    return this.coord.rangeAll(request, level);
  }
  /** A (conditional) put; throws ConditionFailedError when a condition did not hold. */
  put(key: string, value: string, options: PutOptions = {}): Promise<{ revision: number }> {
    return this.coord.put(key, value, options);
  }
  /** A conditional delete; throws ConditionFailedError when a condition did not hold. */
  deleteIf(key: string, conditions: WriteConditions): Promise<{ revision: number; deleted: number }> {
    return this.coord.deleteIf(key, conditions);
  }
  /** An atomic transaction (POST /txn). */
  txn(request: TxnRequest): Promise<TxnResult> {
    return this.coord.txn(request);
  }
  leaseGrant(ttlSeconds: number): Promise<LeaseGrant> {
    return this.coord.leaseGrant(ttlSeconds);
  }
  leaseKeepAlive(id: string): Promise<LeaseGrant> {
    return this.coord.leaseKeepAlive(id);
  }
  leaseRevoke(id: string): Promise<LeaseRevokeResult> {
    return this.coord.leaseRevoke(id);
  }
  leaseGet(id: string, level: ReadLevel = 'linearizable'): Promise<(LeaseInfo & { revision: number }) | undefined> {
    return this.coord.leaseGet(id, level);
  }
  leaseList(level: ReadLevel = 'linearizable'): Promise<{ revision: number; leases: LeaseInfo[] }> {
    return this.coord.leaseList(level);
  }

  // Watch streams and coordination recipes (issue 14): watch.ts and recipes/*.ts. Streams use this
  // client's transport, credentials and endpoints, and end when it closes.
  private readonly streams = new AbortController();
  private watchDeps(): WatchDeps {
    this.assertOpen();
    return {
      transport: this.transport,
      authorization: this.via.authorization,
      endpoints: () => this.candidates(),
      closing: this.streams.signal,
    };
  }
  /** The changes to a key or prefix, each once its revision is complete; resumes across disconnects (watch.ts). */
  watch(options: WatchOptions): AsyncGenerator<WatchEvent, void, undefined> {
    return watchChanges(this.watchDeps(), options);
  }
  /** Like {@link watch}, one complete revision (all its watched changes) at a time. */
  watchRevisions(options: WatchOptions): AsyncGenerator<WatchRevision, void, undefined> {
    return watchRevisions(this.watchDeps(), options);
  }
  /** Take the distributed lock `name` (recipes/lock.ts); resolves once held. */
  lock(name: string, options: LockOptions = {}): Promise<Lock> {
    return acquireLock(this, name, options);
  }
  /** Campaign in `election` with `value` (recipes/election.ts); resolves once leading. */
  campaign(election: string, value: string, options: CampaignOptions = {}): Promise<Leadership> {
    return campaign(this, election, value, options);
  }
  /** The leader of `election` now and after every change (null: no candidate). */
  observeElection(election: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<ElectionLeader | null, void, undefined> {
    return electionLeaders(this, election, options.signal ?? this.streams.signal);
  }
  /** Register `instance` of `service` with an expiring, kept-alive entry (recipes/registry.ts). */
  register(service: string, instance: string, options: RegisterOptions = {}): Promise<Registration> {
    return register(this, service, instance, options);
  }
  /** The instances of `service` now and after every change. */
  discover(service: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<ServiceInstance[], void, undefined> {
    return discover(this, service, options.signal ?? this.streams.signal);
  }

  /**
   * GET /status. With `endpoint`, asks exactly that node (one attempt, no failover: for
   * per-member tables); without, asks any node.
   */
  async status(endpoint?: string): Promise<NodeStatus> {
    return (await this.statusWithEndpoint(endpoint)).status;
  }

  /** The cluster's members as the leader sees them (a follower's view if the leader does not answer). */
  async members(): Promise<MemberView[]> {
    const first = await this.statusWithEndpoint(undefined);
    let status = first.status;
    const leader = leaderEndpointOf(status, first.endpoint);
    if (status.role !== 'leader' && leader !== '' && leader !== first.endpoint) {
      try {
        status = (await this.statusWithEndpoint(leader)).status;
      } catch {
        // the follower's view is still an answer
      }
    }
    return [...status.members];
  }

  /** The HTTP endpoints of the members (as the leader reports them; members without an HTTP address are left out). */
  async memberEndpoints(): Promise<string[]> {
    const first = await this.statusWithEndpoint(undefined);
    const members = await this.members();
    return members.map((m) => reachableEndpoint(m.httpAddr, m.raftAddr, first.endpoint)).filter((e) => e !== '');
  }

  /** True when `endpoint` recently failed to answer (a probe or a request): callers may skip it. Always false without probing. */
  isSilent(endpoint: string): boolean {
    return this.liveness?.state(normalizeEndpoint(endpoint)) === 'dead';
  }

  /** Why {@link isSilent} is true ('' otherwise). */
  silentReason(endpoint: string): string {
    return this.liveness?.reason(normalizeEndpoint(endpoint)) ?? '';
  }

  /**
   * One GET of `path` on exactly `endpoint` within `timeoutMs` (0: the request timeout), whatever
   * the answer's status; no retries, no probe (for per-endpoint health tables). Throws
   * GraftdClientError when no answer arrives.
   */
  async probeEndpoint(
    endpoint: string,
    path: '/readyz' | '/healthz' | '/status',
    timeoutMs: number,
  ): Promise<{ status: number; text: string }> {
    this.assertOpen();
    const target = normalizeEndpoint(endpoint);
    const limit = timeoutMs > 0 ? Math.min(timeoutMs, this.timeoutMs) : this.timeoutMs;
    try {
      const answer = await attempt(this.transport, target, { method: 'GET', path }, limit, this.via);
      this.liveness?.answered(target);
      return { status: answer.status, text: answer.text };
    } catch (err) {
      if (err instanceof GraftdClientError && err.code === 'GRAFTD_CLIENT_TIMEOUT') {
        throw new GraftdClientError('GRAFTD_CLIENT_TIMEOUT', `${target}: no answer within ${limit} ms`, { endpoint: target, cause: err });
      }
      throw err;
    }
  }

  /**
   * Add a member. `addr` is its raft address. A voter joins as a learner and is promoted
   * once caught up; `learner: true` keeps it a learner (read replica).
   */
  async join(id: string, addr: string, options: { httpAddr?: string; learner?: boolean } = {}): Promise<void> {
    const body = { id, addr, httpAddr: options.httpAddr ?? '', voter: options.learner !== true };
    await this.exchange({ method: 'POST', path: '/join', body: JSON.stringify(body) }, 'membership');
  }

  /** Remove member `id` (removing the leader transfers leadership first). */
  async remove(id: string): Promise<void> {
    await this.exchange({ method: 'POST', path: '/remove', body: JSON.stringify({ id }) }, 'membership');
  }

  /** Move leadership to `id` (or the best-placed voter). Resolves with the new leader's id. */
  async transferLeader(id?: string): Promise<string> {
    const answer = await this.exchange(
      { method: 'POST', path: '/transfer-leader', body: JSON.stringify(id === undefined ? {} : { id }) },
      'membership',
    );
    const body = parseJson(answer);
    const leader = body !== null && typeof body === 'object' ? (body as { leader?: unknown }).leader : undefined;
    if (typeof leader !== 'string') {
      throw new GraftdClientError(
        'GRAFTD_CLIENT_BAD_RESPONSE',
        `${answer.endpoint}: expected {"leader": "<id>"}, got ${answer.text.slice(0, 80)}`,
        {
          status: answer.status,
          endpoint: answer.endpoint,
        },
      );
    }
    this.leaderId = leader;
    this.leaderEndpoint = this.endpointById.get(leader) ?? '';
    return leader;
  }

  /**
   * A consistent backup of the data (GET /snapshot) as a byte stream. The leader serves it
   * (it is a linearizable barrier: the copy holds every write acknowledged before the call), so
   * the request goes to the leader found through the endpoints.
   */
  async backup(): Promise<AsyncIterable<Uint8Array>> {
    const { status, endpoint } = await this.statusWithEndpoint();
    const leader = status.role === 'leader' ? endpoint : leaderEndpointOf(status, endpoint);
    const request: AttemptRequest = { method: 'GET', path: '/snapshot', stream: true };
    // Without a known leader address, any node may still forward or answer 503 (retried).
    const answer = leader === '' ? await this.exchange(request, 'read') : await this.once(leader, request);
    if (answer.stream === null) {
      throw new GraftdClientError('GRAFTD_CLIENT_BAD_RESPONSE', `${answer.endpoint}: /snapshot answered without a body`, {
        status: answer.status,
        endpoint: answer.endpoint,
      });
    }
    return answer.stream;
  }

  /** Request and retry counters since the client was created. */
  stats(): GraftdClientStats {
    return { ...this.counters };
  }

  /** The leader as last seen in an answer ('' when unknown). */
  knownLeader(): { id: string; endpoint: string } {
    return { id: this.leaderId, endpoint: this.leaderEndpoint };
  }

  /** Close the keep-alive connections. The client cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.streams.abort();
    await this.liveness?.close();
    await this.refreshing;
    await this.transport.close();
  }

  /** One attempt at one endpoint, HTTP errors thrown as GraftdClientError. */
  private async once(endpoint: string, request: AttemptRequest): Promise<AttemptAnswer> {
    this.assertOpen();
    const answer = await this.send(endpoint, request);
    this.observe(answer);
    if (answer.status >= 300) throw answerError(answer, this.via.authorization !== '');
    return answer;
  }

  /**
   * The endpoints to try, best first: the leader, then the last one that answered, then the rest
   * in order; with probing, endpoints known to answer come before unknown ones, and those that
   * did not answer come last.
   */
  private candidates(): string[] {
    const order: string[] = [];
    if (this.leaderEndpoint !== '') order.push(this.leaderEndpoint);
    for (let i = 0; i < this.endpoints.length; i++) {
      const endpoint = this.endpoints[(this.preferred + i) % this.endpoints.length]!;
      if (!order.includes(endpoint)) order.push(endpoint);
    }
    return this.liveness === null ? order : this.liveness.order(order);
  }

  /** With probing: unless an endpoint is known to answer, probe them all in parallel and wait for the first answer. */
  private async findLive(): Promise<string[]> {
    if (this.liveness === null) return this.candidates();
    await this.liveness.any(this.candidates());
    return this.candidates();
  }

  /**
   * Send `request`, trying endpoints in turn and retrying what provably had no effect.
   * Returns a 2xx answer, or an answer whose server code is in `acceptCodes` (e.g. 404 KEY_NOT_FOUND).
   */
  private async exchange(request: AttemptRequest, kind: RequestKind, acceptCodes: readonly string[] = []): Promise<AttemptAnswer> {
    this.assertOpen();
    this.counters.requests++;
    let lastError: GraftdClientError | null = null;
    const unreachable: string[] = [];
    let order = await this.findLive();
    let cursor = 0;
    // `retries` counts backoff rounds; moving on from a refused endpoint to the next is free.
    let retryRound = 0;
    const maxSteps = (this.retries + 1) * (this.endpoints.length + 1);
    for (let step = 0; step < maxSteps; step++) {
      if (cursor >= order.length) {
        order = await this.findLive();
        cursor = 0;
      }
      const endpoint = order[cursor]!;
      let answer: AttemptAnswer;
      this.counters.attempts++;
      try {
        answer = await this.send(endpoint, request);
      } catch (err) {
        if (!(err instanceof GraftdClientError)) throw err;
        if (err.outcomeUnknown && kind !== 'read') throw err;
        lastError = err;
        cursor++;
        // A TLS failure is configuration, not a transient state: try the other endpoints once, no backoff rounds.
        if (err.code === 'GRAFTD_CLIENT_TLS') {
          if (cursor < order.length) continue;
          break;
        }
        if (err.code === 'GRAFTD_CLIENT_UNREACHABLE') {
          this.counters.notSent++;
          if (!unreachable.includes(endpoint)) unreachable.push(endpoint);
          if (endpoint === this.leaderEndpoint) this.forgetLeader();
          // Try the next endpoint at once; wait only after a full round found nobody.
          if (cursor < order.length) continue;
        }
        if (retryRound >= this.retries) break;
        await sleep(backoffMs(retryRound++, this.backoffBaseMs, this.backoffMaxMs));
        continue;
      }
      this.observe(answer);
      if (answer.status < 300) {
        const index = this.endpoints.indexOf(endpoint);
        if (index >= 0) this.preferred = index;
        return answer;
      }
      // 401 / 403 are definite: thrown below (4xx), never retried: they had no effect.
      const error = answerError(answer, this.via.authorization !== '');
      if (acceptCodes.includes(error.code)) return answer;
      const noEffect = answer.status === 503 || (kind === 'membership' && RETRYABLE_CONFLICTS.has(error.code));
      if (!noEffect && !(kind === 'read' && answer.status >= 500)) throw error;
      lastError = error;
      this.counters.retriedAnswers++;
      if (endpoint === this.leaderEndpoint) this.forgetLeader();
      // 503 on one node (no leader / shutting down): another node may know better; move on, with a delay.
      cursor++;
      if (retryRound >= this.retries) break;
      await sleep(backoffMs(retryRound++, this.backoffBaseMs, this.backoffMaxMs));
    }
    if (lastError !== null && lastError.code === 'GRAFTD_CLIENT_TLS') throw lastError;
    if (lastError !== null && lastError.code === 'GRAFTD_CLIENT_UNREACHABLE') {
      const tried = unreachable.length === 1 ? unreachable[0]! : `any of ${unreachable.join(', ')}`;
      throw new GraftdClientError('GRAFTD_CLIENT_UNREACHABLE', `cannot reach ${tried} (${lastError.message}); is the cluster running?`, {
        endpoint: lastError.endpoint,
        cause: lastError,
      });
    }
    if (lastError !== null) {
      throw new GraftdClientError(lastError.code, `${lastError.message} (gave up after ${retryRound} retries)`, {
        status: lastError.status,
        outcomeUnknown: lastError.outcomeUnknown,
        endpoint: lastError.endpoint,
        cause: lastError,
      });
    }
    throw new GraftdClientError('GRAFTD_CLIENT_UNREACHABLE', 'no attempt was made');
  }

  private assertOpen(): void {
    if (this.closed) throw new GraftdClientError('GRAFTD_CLIENT_BAD_ARGUMENT', 'the client is closed');
  }

  private forgetLeader(): void {
    this.leaderEndpoint = '';
  }

  /** Follow the leader named in an answer's X-Graftd-Leader header. */
  private observe(answer: AttemptAnswer): void {
    const leader = answer.headers['x-graftd-leader'] ?? '';
    if (leader === '' || leader === this.leaderId) return;
    this.leaderId = leader;
    const known = this.endpointById.get(leader);
    const relayed = (answer.headers['x-graftd-forwarded-by'] ?? '') !== '';
    if (!relayed && answer.headers['x-graftd-node'] === leader) {
      this.leaderEndpoint = answer.endpoint;
    } else if (known !== undefined) {
      this.leaderEndpoint = known;
    } else {
      this.leaderEndpoint = '';
      this.refreshMembers(answer.endpoint);
    }
  }

  /** Learn member endpoints from /status, at most once a second, one refresh at a time (bounded). */
  private refreshMembers(via: string): void {
    const now = Date.now();
    if (this.refreshing !== null || this.closed || now - this.lastRefreshMs < 1000) return;
    this.lastRefreshMs = now;
    this.refreshing = attempt(this.transport, via, { method: 'GET', path: '/status' }, this.timeoutMs, this.via)
      .then((answer) => {
        if (answer.status !== 200) return;
        const status = JSON.parse(answer.text) as NodeStatus;
        if (Array.isArray(status.members)) this.learnMembers(status, via);
      })
      .catch(() => {
        // best effort: followers forward anyway
      })
      .finally(() => {
        this.refreshing = null;
      });
  }

  private learnMembers(status: NodeStatus, via: string): void {
    for (const member of status.members) {
      const endpoint = reachableEndpoint(member.httpAddr, member.raftAddr, via);
      if (endpoint !== '') this.endpointById.set(member.id, endpoint);
    }
    if (status.leaderId !== '') {
      this.leaderId = status.leaderId;
      const endpoint = leaderEndpointOf(status, via);
      this.leaderEndpoint = endpoint === '' ? (this.endpointById.get(status.leaderId) ?? '') : endpoint;
    }
  }

  /** Like {@link status}, also naming the endpoint that answered (to resolve 0.0.0.0 addresses against). */
  async statusWithEndpoint(endpoint?: string): Promise<{ status: NodeStatus; endpoint: string }> {
    const answer =
      endpoint === undefined
        ? await this.exchange({ method: 'GET', path: '/status' }, 'read')
        : await this.once(normalizeEndpoint(endpoint), { method: 'GET', path: '/status' });
    const status = parseJson(answer) as NodeStatus;
    if (status === null || typeof status !== 'object' || typeof status.id !== 'string' || !Array.isArray(status.members)) {
      throw new GraftdClientError('GRAFTD_CLIENT_BAD_RESPONSE', `${answer.endpoint}: /status answered an unexpected shape`, {
        status: answer.status,
        endpoint: answer.endpoint,
      });
    }
    this.learnMembers(status, answer.endpoint);
    return { status, endpoint: answer.endpoint };
  }
}
