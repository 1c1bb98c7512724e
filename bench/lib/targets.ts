/**
 * The systems under load: graftd's HTTP API and etcd's JSON gateway, behind one interface so
 * the same workload runs against both.
 *
 * Why undici Pools: keep-alive connections, one per concurrent worker and endpoint, so the
 * client measures the server rather than connection setup.
 *
 * The coordination cases (issue 13): `cas` is a compare-and-set on the key's modRevision — the
 * target remembers the newest modRevision it has seen per key (from its own successes, from the
 * current value a refused CAS returns, and from a range read before the case), so with one client
 * nearly every CAS succeeds and with many the refusals (412 / etcd's failure branch) measure real
 * contention. `txn3` is one transaction: compare version > 0 on key A, then put A, put B, get A.
 */
import { Pool } from 'undici';
import type { ClientSecurity } from './secure.ts';

export type OpKind = 'write' | 'read' | 'stale' | 'cas' | 'txn3';

export const OP_KINDS: readonly OpKind[] = ['write', 'read', 'stale', 'cas', 'txn3'];

/** Result of one request: undefined when it succeeded, CONFLICT for a refused CAS, else a short error description. */
export type OpResult = string | undefined;

/** A compare-and-set answered "the condition did not hold" (graftd 412, etcd succeeded=false): a complete answer, not an error. */
export const CONFLICT = 'conflict';

export interface Target {
  readonly system: 'graftd' | 'etcd';
  /** Base URLs requests go to (round-robin per worker). */
  readonly endpoints: readonly string[];
  /**
   * One request of `kind` to `endpoints[endpoint]` (0 ≤ endpoint < endpoints.length). `other`: a
   * second key, different from `key` when the key space allows (txn3 writes both).
   */
  op(kind: OpKind, endpoint: number, key: string, value: string, other?: string): Promise<OpResult>;
  /** Unmeasured set-up before a case of `kind` (cas: learn every key's modRevision). */
  prepare?(kind: OpKind, keyPrefix: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Answers are read to the end and dropped up to this size, so a keep-alive connection survives a
 * large value (undici's dump() closes the connection past 128 KiB by default); memory stays one chunk.
 */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * `fn` remembering its last argument and answer: the encoded form of the case's value (JSON string
 * or base64, up to 256 KiB) is computed once per value size instead of on every request, so the
 * load generator spends its CPU sending rather than re-encoding, the same for graftd and etcd.
 */
export function lastOf(fn: (s: string) => string): (s: string) => string {
  let lastIn: string | undefined;
  let lastOut = '';
  return (s) => {
    if (s !== lastIn) {
      lastOut = fn(s);
      lastIn = s;
    }
    return lastOut;
  };
}

function makePools(endpoints: readonly string[], connections: number, client?: ClientSecurity): Pool[] {
  const connect = client?.ca === undefined ? {} : { connect: { ca: client.ca } };
  return endpoints.map((e) => new Pool(e, { connections, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000, ...connect }));
}

type Method = 'GET' | 'POST' | 'PUT';

/** One request whose answer body is read: the status and text, or a transport error description. */
async function exchange(
  pool: Pool,
  method: Method,
  path: string,
  body: string | undefined,
  auth: Readonly<Record<string, string>> = {},
): Promise<{ status: number; text: string } | string> {
  try {
    const res = await pool.request({
      method,
      path,
      body: body ?? null,
      headers: body === undefined ? auth : { 'content-type': 'application/json', ...auth },
    });
    return { status: res.statusCode, text: await res.body.text() };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : String(err);
  }
}

/** `503 GRAFTD_NO_LEADER`-style description of an unexpected answer. */
function describe(status: number, text: string): string {
  let code = '';
  try {
    code = String((JSON.parse(text) as { code?: unknown }).code ?? '');
  } catch {}
  return `${status}${code === '' ? '' : ` ${code}`}`;
}

async function send(
  pool: Pool,
  method: Method,
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
      await res.body.dump({ limit: MAX_DRAIN_BYTES });
      return undefined;
    }
    return describe(res.statusCode, await res.body.text());
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : String(err);
  }
}

/** The newest modRevision seen per key (they only grow, so a late answer never moves one back). */
class Revisions {
  readonly #map = new Map<string, number>();
  get(key: string): number | undefined {
    return this.#map.get(key);
  }
  saw(key: string, revision: number): void {
    if (Number.isFinite(revision) && revision > (this.#map.get(key) ?? -1)) this.#map.set(key, revision);
  }
}

/** Parse JSON, undefined when it is not. */
function json<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/**
 * graftd: POST /key, GET /key/<k> (linearizable default), GET /key/<k>?level=stale, PUT /key/<k>
 * with ifModRevision (cas), POST /txn (txn3). With `client` (a secure cluster): https trusting its
 * CA, its credentials on every request, same keep-alive pools.
 */
export function graftdTarget(endpoints: readonly string[], connections: number, client?: ClientSecurity): Target {
  const pools = makePools(endpoints, connections, client);
  const auth = client?.authorization === undefined ? {} : { authorization: client.authorization };
  const revisions = new Revisions();
  const keyPath = (key: string) => `/key/${encodeURIComponent(key)}`;
  const jsonValue = lastOf((v) => JSON.stringify(v));

  async function cas(pool: Pool, key: string, value: string): Promise<OpResult> {
    let rev = revisions.get(key);
    if (rev === undefined) {
      // Not learnt before the case (a key written since): read it, as a client would.
      const r = await exchange(pool, 'GET', `${keyPath(key)}?meta=true`, undefined, auth);
      if (typeof r === 'string') return r;
      if (r.status === 404) rev = 0;
      else if (r.status !== 200) return describe(r.status, r.text);
      else rev = json<{ modRevision?: number }>(r.text)?.modRevision ?? 0;
    }
    const r = await exchange(pool, 'PUT', keyPath(key), JSON.stringify({ value, ifModRevision: rev }), auth);
    if (typeof r === 'string') return r;
    if (r.status === 200) {
      revisions.saw(key, json<{ revision?: number }>(r.text)?.revision ?? Number.NaN);
      return undefined;
    }
    if (r.status === 412) {
      revisions.saw(key, json<{ current?: { modRevision?: number } | null }>(r.text)?.current?.modRevision ?? 0);
      return CONFLICT;
    }
    return describe(r.status, r.text);
  }

  async function txn3(pool: Pool, a: string, b: string, value: string): Promise<OpResult> {
    const body = JSON.stringify({
      compare: [{ key: a, target: 'version', op: '>', value: 0 }],
      success: [{ put: { key: a, value } }, { put: { key: b, value } }, { get: { key: a } }],
      failure: [],
    });
    const r = await exchange(pool, 'POST', '/txn', body, auth);
    if (typeof r === 'string') return r;
    if (r.status !== 200) return describe(r.status, r.text);
    return json<{ succeeded?: boolean }>(r.text)?.succeeded === true ? undefined : 'txn took the failure branch';
  }

  return {
    system: 'graftd',
    endpoints,
    op(kind, endpoint, key, value, other) {
      const pool = pools[endpoint % pools.length]!;
      const ok = (s: number) => s === 200;
      switch (kind) {
        case 'write':
          // Same body as JSON.stringify({ [key]: value }), with the value's JSON made once per size.
          return send(pool, 'POST', '/key', `{${JSON.stringify(key)}:${jsonValue(value)}}`, ok, auth);
        case 'cas':
          return cas(pool, key, value);
        case 'txn3':
          return txn3(pool, key, other ?? key, value);
        default:
          return send(pool, 'GET', `${keyPath(key)}${kind === 'stale' ? '?level=stale' : ''}`, undefined, ok, auth);
      }
    },
    async prepare(kind, keyPrefix) {
      if (kind !== 'cas') return;
      // Every key's modRevision, page by page (GET /keys, keysOnly).
      let after: string | null = null;
      do {
        const q = `/keys?prefix=${encodeURIComponent(keyPrefix)}&keysOnly=true&limit=10000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`;
        const r = await exchange(pools[0]!, 'GET', q, undefined, auth);
        if (typeof r === 'string' || r.status !== 200)
          throw new Error(`GET /keys: ${typeof r === 'string' ? r : describe(r.status, r.text)}`);
        const page = JSON.parse(r.text) as { kvs: { key: string; modRevision: number }[]; next: string | null };
        for (const kv of page.kvs) revisions.saw(kv.key, kv.modRevision);
        after = page.next;
      } while (after !== null);
    },
    async close() {
      await Promise.all(pools.map((p) => p.close()));
    },
  };
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** The key just after every key starting with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]!++;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

interface EtcdTxnAnswer {
  header?: { revision?: string };
  succeeded?: boolean;
  responses?: { response_range?: { kvs?: { mod_revision?: string }[] } }[];
}

/**
 * etcd v3 JSON gateway: /v3/kv/put, /v3/kv/range (linearizable by default; serializable for stale),
 * /v3/kv/txn for cas (compare MOD = R, put; else range the key) and txn3. int64 fields are strings
 * in the gateway's JSON, and false/empty fields are left out (`succeeded` absent = false).
 */
export function etcdTarget(endpoints: readonly string[], connections: number): Target {
  const pools = makePools(endpoints, connections);
  const revisions = new Revisions();
  const b64Value = lastOf(b64);

  async function cas(pool: Pool, key: string, value: string): Promise<OpResult> {
    const rev = revisions.get(key) ?? 0;
    const body = JSON.stringify({
      compare: [{ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: String(rev) }],
      success: [{ request_put: { key: b64(key), value: b64Value(value) } }],
      failure: [{ request_range: { key: b64(key) } }],
    });
    const r = await exchange(pool, 'POST', '/v3/kv/txn', body);
    if (typeof r === 'string') return r;
    if (r.status !== 200) return describe(r.status, r.text);
    const a = json<EtcdTxnAnswer>(r.text);
    if (a?.succeeded === true) {
      revisions.saw(key, Number(a.header?.revision));
      return undefined;
    }
    revisions.saw(key, Number(a?.responses?.[0]?.response_range?.kvs?.[0]?.mod_revision ?? 0));
    return CONFLICT;
  }

  async function txn3(pool: Pool, a: string, b: string, value: string): Promise<OpResult> {
    const body = JSON.stringify({
      compare: [{ key: b64(a), target: 'VERSION', result: 'GREATER', version: '0' }],
      success: [
        { request_put: { key: b64(a), value: b64Value(value) } },
        { request_put: { key: b64(b), value: b64Value(value) } },
        { request_range: { key: b64(a) } },
      ],
      failure: [],
    });
    const r = await exchange(pool, 'POST', '/v3/kv/txn', body);
    if (typeof r === 'string') return r;
    if (r.status !== 200) return describe(r.status, r.text);
    return json<EtcdTxnAnswer>(r.text)?.succeeded === true ? undefined : 'txn took the failure branch';
  }

  return {
    system: 'etcd',
    endpoints,
    op(kind, endpoint, key, value, other) {
      const pool = pools[endpoint % pools.length]!;
      const ok = (s: number) => s === 200;
      switch (kind) {
        case 'write':
          // Base64 needs no JSON escaping: the same body as JSON.stringify({ key, value }), value encoded once per size.
          return send(pool, 'POST', '/v3/kv/put', `{"key":"${b64(key)}","value":"${b64Value(value)}"}`, ok);
        case 'cas':
          return cas(pool, key, value);
        case 'txn3':
          return txn3(pool, key, other ?? key, value);
        default: {
          const body = kind === 'stale' ? { key: b64(key), serializable: true } : { key: b64(key) };
          return send(pool, 'POST', '/v3/kv/range', JSON.stringify(body), ok);
        }
      }
    },
    async prepare(kind, keyPrefix) {
      if (kind !== 'cas') return;
      const body = JSON.stringify({ key: b64(keyPrefix), range_end: prefixEnd(keyPrefix), keys_only: true });
      const r = await exchange(pools[0]!, 'POST', '/v3/kv/range', body);
      if (typeof r === 'string' || r.status !== 200)
        throw new Error(`etcd range: ${typeof r === 'string' ? r : describe(r.status, r.text)}`);
      const page = JSON.parse(r.text) as { kvs?: { key: string; mod_revision?: string }[] };
      for (const kv of page.kvs ?? []) revisions.saw(Buffer.from(kv.key, 'base64').toString(), Number(kv.mod_revision ?? 0));
    },
    async close() {
      await Promise.all(pools.map((p) => p.close()));
    },
  };
}
