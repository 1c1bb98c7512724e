/**
 * Joining an existing cluster over HTTP: learn its id and members, then ask to be added.
 *
 * Why retries: the member named by -join may still be starting or electing a leader, so both
 * steps retry with jittered exponential backoff (bounded delay, bounded total time) until the
 * cluster answers; a definite refusal (4xx other than "a change is in progress") stops at once.
 * The join request may go to any member: followers forward it to the leader.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, request } from 'undici';
import { GraftdError } from '../errors.ts';
import { type Log, errFields } from '../log.ts';
import type { MemberView } from '../node/api.ts';

export interface JoinRetryOptions {
  /** Give up after this long (JOIN_TIMEOUT, default 120 000 ms). */
  readonly totalTimeoutMs: number;
  /** Per-attempt HTTP timeout. Default 5000. */
  readonly attemptTimeoutMs?: number;
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly log: Log;
  /** Aborts the retry loop (shutdown). */
  readonly signal?: AbortSignal;
  /** How to reach the member: scheme, TLS agent, credentials. Default: plain http, no credentials. */
  readonly http?: JoinHttp;
}

/** Transport details of the join calls in a secure cluster. */
export interface JoinHttp {
  readonly scheme: 'http' | 'https';
  /** An undici Agent carrying the CA (and client certificate) for https. */
  readonly dispatcher?: Dispatcher;
  /** Extra headers for every call (Authorization from GRAFTD_TOKEN / GRAFTD_USER + GRAFTD_PASSWORD). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Adds the cluster-secret proof to a join body (absent: no secret configured). */
  readonly prove?: (body: JoinBody) => string;
  /** A fresh `Authorization: GraftdPeer …` value for GET /status (absent: no secret configured). */
  readonly peerRead?: () => string;
}

/** The fields of POST /join that a proof binds. */
export interface JoinBody {
  readonly id: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  readonly voter: boolean;
  readonly fresh: boolean;
}

interface Answer {
  readonly status: number;
  text(): Promise<string>;
}

async function call(joinAddr: string, path: string, opts: JoinRetryOptions, timeoutMs: number, body?: string): Promise<Answer> {
  const http = opts.http ?? { scheme: 'http' };
  const headers: Record<string, string> = { ...(http.headers ?? {}) };
  // Without credentials of its own, a node holding the cluster secret proves it to read /status.
  if (headers.authorization === undefined && body === undefined && http.peerRead !== undefined) headers.authorization = http.peerRead();
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await request(`${http.scheme}://${joinAddr}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      ...(body === undefined ? {} : { body }),
      ...(http.dispatcher === undefined ? {} : { dispatcher: http.dispatcher }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.statusCode, text: () => res.body.text() };
  } catch (err) {
    // Say why (ECONNREFUSED, a TLS verification failure) instead of a bare "fetch failed".
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e.code ?? e.cause?.code ?? '';
    throw new Error(`${path} on ${joinAddr}: ${code === '' ? '' : `${code} `}${e.message}`.trim(), { cause: err });
  }
}

/** What the joining node learns from the member it joins through. */
export interface ClusterInfo {
  readonly clusterId: string;
  readonly members: readonly MemberView[];
}

class Permanent extends Error {}

async function retry<T>(what: string, opts: JoinRetryOptions, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + opts.totalTimeoutMs;
  const min = opts.minDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 2000;
  let delay = min;
  for (let n = 1; ; n++) {
    if (opts.signal?.aborted) throw new GraftdError('GRAFTD_SHUTTING_DOWN', `${what}: aborted`);
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof Permanent) throw new GraftdError('GRAFTD_BAD_CONFIG', `${what} was refused: ${err.message}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new GraftdError(
          'GRAFTD_TIMEOUT',
          `${what} did not succeed within ${opts.totalTimeoutMs} ms; last error: ${(err as Error).message}`,
        );
      if (n === 1 || n % 10 === 0) opts.log.warn({ attempt: n, ...errFields(err) }, `${what} failed; retrying`);
      const wait = Math.min(left, delay / 2 + Math.random() * (delay / 2));
      await sleep(wait, undefined, opts.signal === undefined ? {} : { signal: opts.signal }).catch(() => undefined);
      delay = Math.min(max, delay * 2);
    }
  }
}

async function readError(res: Answer): Promise<{ code: string; message: string }> {
  const text = await res.text();
  try {
    const o = JSON.parse(text) as { code?: unknown; error?: unknown };
    return { code: typeof o.code === 'string' ? o.code : '', message: typeof o.error === 'string' ? o.error : text };
  } catch {
    return { code: '', message: text.slice(0, 200) };
  }
}

/** GET http://JOIN/status until it answers with a cluster id. */
export function discoverCluster(joinAddr: string, opts: JoinRetryOptions): Promise<ClusterInfo> {
  return retry(`contacting ${joinAddr}`, opts, async () => {
    const res = await call(joinAddr, '/status', opts, opts.attemptTimeoutMs ?? 5000);
    if (res.status === 401 || res.status === 403) {
      const e = await readError(res);
      throw new Permanent(
        `GET /status on ${joinAddr} answered ${res.status} ${e.code}: ${e.message} (set GRAFTD_TOKEN, or GRAFTD_USER and GRAFTD_PASSWORD, or the same -cluster-secret-file as the cluster)`,
      );
    }
    if (res.status !== 200) {
      await res.text();
      throw new Error(`GET /status answered ${res.status}`);
    }
    const s = JSON.parse(await res.text()) as { clusterId?: unknown; members?: unknown };
    if (typeof s.clusterId !== 'string' || s.clusterId === '')
      throw new Permanent(`${joinAddr} did not report a cluster id (is it a graftd node?)`);
    const members = Array.isArray(s.members)
      ? (s.members as MemberView[]).filter((m) => typeof m?.id === 'string' && typeof m.raftAddr === 'string')
      : [];
    return { clusterId: s.clusterId, members };
  });
}

/** POST http://JOIN/join until the cluster has added this node (or refuses it for good). */
export function requestJoin(joinAddr: string, body: JoinBody, opts: JoinRetryOptions): Promise<void> {
  return retry(`joining through ${joinAddr}`, opts, async () => {
    // A fresh proof per attempt: each carries its own timestamp and nonce.
    const proof = opts.http?.prove?.(body);
    const json = JSON.stringify({
      id: body.id,
      addr: body.raftAddr,
      httpAddr: body.httpAddr,
      voter: body.voter,
      fresh: body.fresh,
      ...(proof === undefined || proof === '' ? {} : { proof }),
    });
    const res = await call(joinAddr, '/join', opts, opts.attemptTimeoutMs ?? 15_000, json);
    if (res.status === 200) {
      await res.text();
      return;
    }
    const e = await readError(res);
    const retryable =
      res.status >= 500 ||
      res.status === 429 ||
      res.status === 408 ||
      e.code === 'GRAFTD_CONF_CHANGE_IN_PROGRESS' ||
      e.code === 'GRAFTD_TRANSFER_IN_PROGRESS';
    if (!retryable) throw new Permanent(`${res.status} ${e.code} ${e.message}`);
    throw new Error(`POST /join answered ${res.status} ${e.code} ${e.message}`);
  });
}
