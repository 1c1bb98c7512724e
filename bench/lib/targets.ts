/**
 * The systems under load: graftd's HTTP API and etcd's JSON gateway, behind one interface so
 * the same workload runs against both.
 *
 * Why undici Pools: keep-alive connections, one per concurrent worker and endpoint, so the
 * client measures the server rather than connection setup.
 */
import { Pool } from 'undici';
import type { ClientSecurity } from './secure.ts';

export type OpKind = 'write' | 'read' | 'stale';

/** Result of one request: undefined when it succeeded, else a short error description. */
export type OpResult = string | undefined;

export interface Target {
  readonly system: 'graftd' | 'etcd';
  /** Base URLs requests go to (round-robin per worker). */
  readonly endpoints: readonly string[];
  /** One request of `kind` to `endpoints[endpoint]` (0 ≤ endpoint < endpoints.length). */
  op(kind: OpKind, endpoint: number, key: string, value: string): Promise<OpResult>;
  close(): Promise<void>;
}

function makePools(endpoints: readonly string[], connections: number, client?: ClientSecurity): Pool[] {
  const connect = client?.ca === undefined ? {} : { connect: { ca: client.ca } };
  return endpoints.map((e) => new Pool(e, { connections, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000, ...connect }));
}

async function send(
  pool: Pool,
  method: 'GET' | 'POST',
  path: string,
  body: string | undefined,
  okStatus: (s: number) => boolean,
  auth: Readonly<Record<string, string>> = {},
): Promise<OpResult> {
  try {
    const res = await pool.request({
      method,
      path,
      body: body ?? null,
      headers: body === undefined ? auth : { 'content-type': 'application/json', ...auth },
    });
    if (okStatus(res.statusCode)) {
      await res.body.dump();
      return undefined;
    }
    const text = await res.body.text();
    let code = '';
    try {
      code = String((JSON.parse(text) as { code?: unknown }).code ?? '');
    } catch {}
    return `${res.statusCode}${code === '' ? '' : ` ${code}`}`;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : String(err);
  }
}

/**
 * graftd: POST /key, GET /key/<k> (linearizable default), GET /key/<k>?level=stale. With `client`
 * (a secure cluster): https trusting its CA, its credentials on every request, same keep-alive pools.
 */
export function graftdTarget(endpoints: readonly string[], connections: number, client?: ClientSecurity): Target {
  const pools = makePools(endpoints, connections, client);
  const auth = client?.authorization === undefined ? {} : { authorization: client.authorization };
  return {
    system: 'graftd',
    endpoints,
    op(kind, endpoint, key, value) {
      const pool = pools[endpoint % pools.length]!;
      const ok = (s: number) => s === 200;
      if (kind === 'write') return send(pool, 'POST', '/key', JSON.stringify({ [key]: value }), ok, auth);
      const path = `/key/${encodeURIComponent(key)}${kind === 'stale' ? '?level=stale' : ''}`;
      return send(pool, 'GET', path, undefined, ok, auth);
    },
    async close() {
      await Promise.all(pools.map((p) => p.close()));
    },
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** etcd v3 JSON gateway: /v3/kv/put, /v3/kv/range (linearizable by default; serializable for stale). */
export function etcdTarget(endpoints: readonly string[], connections: number): Target {
  const pools = makePools(endpoints, connections);
  return {
    system: 'etcd',
    endpoints,
    op(kind, endpoint, key, value) {
      const pool = pools[endpoint % pools.length]!;
      const ok = (s: number) => s === 200;
      if (kind === 'write') return send(pool, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(key), value: b64(value) }), ok);
      const body = kind === 'stale' ? { key: b64(key), serializable: true } : { key: b64(key) };
      return send(pool, 'POST', '/v3/kv/range', JSON.stringify(body), ok);
    },
    async close() {
      await Promise.all(pools.map((p) => p.close()));
    },
  };
}
