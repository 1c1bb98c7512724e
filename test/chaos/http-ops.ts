/**
 * One client operation over HTTP, and how its answer maps onto the history's ok / fail / info.
 *
 * Why the mapping is strict (docs/api.md, "Outcome semantics"): calling something `fail` claims
 * it provably had no effect, so only 4xx, 503 and a connection that was never established
 * qualify; 504, 500, a timeout or a connection dropped after the request may have been sent
 * are `info` (outcome unknown). A wrong `fail` would make the checker report bugs that are not
 * there; a wrong `info` only makes it a little weaker.
 */
import { Pool } from 'undici';
import type { OpKind } from '../../src/check/history.ts';
import type { ChaosSecurity } from './security.ts';

/** The classified outcome of one operation. */
export interface Outcome {
  readonly type: 'ok' | 'fail' | 'info';
  /** For an ok read: the value, or null when absent. */
  readonly value: string | null;
  /** For fail/info: status and code, or the client error. */
  readonly error?: string;
}

/** Map an HTTP answer to an outcome. */
export function classifyResponse(op: OpKind, key: string, status: number, body: string): Outcome {
  let code = '';
  let parsed: unknown;
  try {
    parsed = body === '' ? undefined : JSON.parse(body);
    const c = (parsed as { code?: unknown } | undefined)?.code;
    if (typeof c === 'string') code = c;
  } catch {
    parsed = undefined;
  }
  const error = `${status}${code === '' ? '' : ` ${code}`}`;
  if (op === 'read') {
    if (status === 200) {
      const v = (parsed as Record<string, unknown> | undefined)?.[key];
      // A 200 without the key's value is a server bug we must not guess about: unknown outcome.
      return typeof v === 'string' ? { type: 'ok', value: v } : { type: 'info', value: null, error: `200 without a value for ${key}` };
    }
    if (status === 404 && code === 'GRAFTD_KEY_NOT_FOUND') return { type: 'ok', value: null };
  } else if (status >= 200 && status < 300) {
    return { type: 'ok', value: null };
  }
  if ((status >= 400 && status < 500) || status === 503) return { type: 'fail', value: null, error };
  return { type: 'info', value: null, error };
}

/** Client-side error codes that prove the request never reached the server. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Map a client-side error (no HTTP answer) to an outcome. */
export function classifyError(err: unknown): Outcome {
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : String(e.name ?? 'Error');
  if (NEVER_SENT.has(code)) return { type: 'fail', value: null, error: code };
  return { type: 'info', value: null, error: code };
}

/**
 * Connection pools to every node, from 127.0.0.1 (never partitioned). In secure mode: https
 * trusting the run's CA (a TLS handshake that does not finish in time is a connect timeout, so
 * still `fail`: nothing was sent), and the admin's credentials on every request.
 */
export class NodeClients {
  readonly #pools = new Map<string, Pool>();
  readonly #timeoutMs: number;
  readonly #auth: Record<string, string>;

  /** `addrs`: node id → HOST:PORT of its HTTP API. `timeoutMs`: per request, after which the outcome is unknown. */
  constructor(addrs: ReadonlyMap<string, string>, timeoutMs: number, security?: ChaosSecurity) {
    this.#timeoutMs = timeoutMs;
    this.#auth = security === undefined ? {} : { authorization: security.authorization };
    const scheme = security === undefined ? 'http' : 'https';
    const tls = security === undefined ? {} : { ca: security.ca };
    for (const [id, addr] of addrs) {
      this.#pools.set(
        id,
        new Pool(`${scheme}://${addr}`, {
          connections: 32,
          pipelining: 1,
          connect: { localAddress: '127.0.0.1', timeout: Math.min(1000, timeoutMs), ...tls },
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          keepAliveTimeout: 2000,
        }),
      );
    }
  }

  /**
   * Perform one operation against node `nodeId`; never throws. `level` picks the read level
   * (default: the server's default, linearizable); the history records both kinds as reads.
   */
  async perform(nodeId: string, op: OpKind, key: string, value: string | null, level?: 'lease'): Promise<Outcome> {
    const pool = this.#pools.get(nodeId);
    if (pool === undefined) throw new Error(`no client for node ${nodeId}`);
    const path = `/key/${encodeURIComponent(key)}${op === 'read' && level !== undefined ? `?level=${level}` : ''}`;
    try {
      const res =
        op === 'write'
          ? await pool.request({
              method: 'POST',
              path: '/key',
              body: JSON.stringify({ [key]: value }),
              headers: { 'content-type': 'application/json', ...this.#auth },
              signal: AbortSignal.timeout(this.#timeoutMs),
            })
          : await pool.request({
              method: op === 'read' ? 'GET' : 'DELETE',
              path,
              headers: this.#auth,
              signal: AbortSignal.timeout(this.#timeoutMs),
            });
      const body = await res.body.text();
      return classifyResponse(op, key, res.statusCode, body);
    } catch (err) {
      return classifyError(err);
    }
  }

  /**
   * One request to node `nodeId` with the run's credentials and timeout; `body` is sent as JSON.
   * Throws what the client throws (classify it with `classifyError`).
   */
  async send(
    nodeId: string,
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: string }> {
    const pool = this.#pools.get(nodeId);
    if (pool === undefined) throw new Error(`no client for node ${nodeId}`);
    const res = await pool.request({
      method,
      path,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...this.#auth },
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /**
   * POST an admin request (/remove, /transfer-leader) with a JSON body to node `nodeId`. Never
   * throws: the answer's status and code, or `error` when no answer came (outcome unknown).
   */
  async admin(nodeId: string, path: string, body: unknown): Promise<{ status: number; code: string; error?: string }> {
    const pool = this.#pools.get(nodeId);
    if (pool === undefined) throw new Error(`no client for node ${nodeId}`);
    try {
      const res = await pool.request({
        method: 'POST',
        path,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...this.#auth },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      const text = await res.body.text();
      let code = '';
      try {
        const c = (JSON.parse(text) as { code?: unknown }).code;
        if (typeof c === 'string') code = c;
      } catch {
        // empty or non-JSON body
      }
      return { status: res.statusCode, code };
    } catch (err) {
      return { status: 0, code: '', error: classifyError(err).error ?? 'error' };
    }
  }

  /** Close every pool (in-flight requests are aborted). */
  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.destroy()));
  }
}
