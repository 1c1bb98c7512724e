/**
 * Which endpoints a client has recently heard from, and which did not answer a short probe.
 *
 * Why: a hung endpoint (a SIGSTOPped or wedged process: its kernel still accepts connections,
 * nobody answers) used to cost the full request timeout — and, for a write, an "outcome
 * unknown" although the request may well have been lost unread. A GET /healthz with a short
 * timeout, sent before the first request to an endpoint, tells a hung endpoint from a live one
 * without risking a write; the answer (or silence) is remembered for `freshMs`, so one command
 * probes each endpoint at most once. Probes of all endpoints start in parallel, so a live one is
 * found in one round trip whatever the order of the list.
 */
import { GraftdClientError } from './errors.ts';

/** Sends one probe to `endpoint`: resolves null when it answered (any HTTP status), else with the error. */
export type ProbeFn = (endpoint: string, signal: AbortSignal) => Promise<GraftdClientError | null>;

interface Entry {
  /** null: answered; an error: no answer. */
  result: GraftdClientError | null;
  at: number;
}

/** At most this many probes in flight per client (endpoint lists are short; this bounds a silly one). */
const MAX_PARALLEL_PROBES = 16;

export class Liveness {
  readonly #probe: ProbeFn;
  readonly #freshMs: number;
  readonly #now: () => number;
  readonly #known = new Map<string, Entry>();
  readonly #pending = new Map<string, Promise<GraftdClientError | null>>();
  readonly #closing = new AbortController();

  constructor(probe: ProbeFn, freshMs: number, now: () => number = Date.now) {
    this.#probe = probe;
    this.#freshMs = freshMs;
    this.#now = now;
  }

  /** The endpoint answered an HTTP request just now. */
  answered(endpoint: string): void {
    this.#known.set(endpoint, { result: null, at: this.#now() });
  }

  /** A request to the endpoint got no answer (timeout, refused, broken connection). */
  failed(endpoint: string, error: GraftdClientError): void {
    this.#known.set(endpoint, { result: error, at: this.#now() });
  }

  #fresh(endpoint: string): Entry | undefined {
    const entry = this.#known.get(endpoint);
    return entry !== undefined && this.#now() - entry.at < this.#freshMs ? entry : undefined;
  }

  /** 'alive' / 'dead' from a fresh observation, else 'unknown' (maybe with a probe in flight). */
  state(endpoint: string): 'alive' | 'dead' | 'unknown' {
    const entry = this.#fresh(endpoint);
    if (entry === undefined) return 'unknown';
    return entry.result === null ? 'alive' : 'dead';
  }

  /** The message of a fresh failure ('' when none). */
  reason(endpoint: string): string {
    return this.#fresh(endpoint)?.result?.message ?? '';
  }

  /** Null when `endpoint` is known to answer or answers a probe now; else why not (a fresh failure is returned at once). */
  check(endpoint: string): Promise<GraftdClientError | null> {
    const entry = this.#fresh(endpoint);
    if (entry !== undefined) return Promise.resolve(entry.result);
    return this.#start(endpoint);
  }

  #start(endpoint: string): Promise<GraftdClientError | null> {
    const inFlight = this.#pending.get(endpoint);
    if (inFlight !== undefined) return inFlight;
    const promise = this.#probe(endpoint, this.#closing.signal)
      .catch((err: unknown) =>
        err instanceof GraftdClientError
          ? err
          : new GraftdClientError('GRAFTD_CLIENT_UNREACHABLE', `${endpoint}: probe failed: ${String(err)}`),
      )
      .then((result) => {
        this.#known.set(endpoint, { result, at: this.#now() });
        this.#pending.delete(endpoint);
        return result;
      });
    this.#pending.set(endpoint, promise);
    return promise;
  }

  /**
   * Probe every endpoint whose state is unknown (all of them when all are dead), in parallel;
   * resolve as soon as one of `endpoints` is alive (or all probes ended). Bounded by the probe timeout.
   */
  async any(endpoints: readonly string[]): Promise<void> {
    if (endpoints.some((e) => this.state(e) === 'alive')) return;
    // Nobody answered last time (a retry round after a full failed one): probe them all again.
    if (endpoints.every((e) => this.state(e) === 'dead')) for (const e of endpoints) this.#known.delete(e);
    const unknown = endpoints.filter((e) => this.state(e) === 'unknown').slice(0, MAX_PARALLEL_PROBES);
    if (unknown.length === 0) return;
    await new Promise<void>((resolve) => {
      let left = unknown.length;
      for (const endpoint of unknown) {
        void this.#start(endpoint).then((result) => {
          left--;
          if (result === null || left === 0) resolve();
        });
      }
    });
  }

  /** `endpoints` reordered: alive first, then unknown, then dead (each group in the given order). */
  order(endpoints: readonly string[]): string[] {
    const rank = { alive: 0, unknown: 1, dead: 2 } as const;
    return endpoints
      .map((endpoint, i) => ({ endpoint, i, r: rank[this.state(endpoint)] }))
      .sort((a, b) => a.r - b.r || a.i - b.i)
      .map((x) => x.endpoint);
  }

  /** Abort the probes in flight (the client is closing); resolves once they have settled. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all(this.#pending.values());
  }
}
