/**
 * The CAS workload's requests — a metadata read, a conditional PUT, a single-key transaction —
 * and how each answer maps onto ok / fail / info and the history's result fields.
 *
 * Why strict, as in http-ops.ts: `fail` claims no effect (4xx, 503, never sent). A 412
 * GRAFTD_CONDITION_FAILED is not a failure here but an answer: the condition was evaluated and did
 * not hold, and `current` is what it saw — an observation the checker holds the server to. A
 * 2xx whose body we cannot read is `info` (we must not guess what happened).
 */
import type { CasCondition, KeyTxn, Observed, TxnStep } from '../../src/check/cas-ops.ts';
import type { NodeClients } from './http-ops.ts';
import { classifyError } from './http-ops.ts';

/** The classified outcome of one conditional operation or metadata read. */
export interface CasOutcome {
  readonly type: 'ok' | 'fail' | 'info';
  /** read ok: the value (null: absent). */
  readonly value?: string | null;
  /** read ok: the version (0: absent). */
  readonly version?: number;
  /** cas/txn ok: which branch ran. */
  readonly succeeded?: boolean;
  /** cas ok, failed condition: what it saw. */
  readonly current?: Observed | null;
  /** txn ok: what the branch's gets returned. */
  readonly gets?: readonly (Observed | null)[];
  readonly error?: string;
}

function parse(body: string): { json: Record<string, unknown> | undefined; code: string } {
  try {
    const json = body === '' ? undefined : (JSON.parse(body) as unknown);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return { json: undefined, code: '' };
    const r = json as Record<string, unknown>;
    return { json: r, code: typeof r.code === 'string' ? r.code : '' };
  } catch {
    return { json: undefined, code: '' };
  }
}

/** A key's metadata as an observation, or undefined when the shape is wrong. */
function observed(raw: unknown): Observed | null | undefined {
  if (raw === null) return null;
  if (typeof raw !== 'object' || raw === undefined) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.value !== 'string' || typeof r.version !== 'number' || !Number.isSafeInteger(r.version) || r.version < 1) return undefined;
  return { value: r.value, version: r.version };
}

/** Anything but the expected answers: 4xx and 503 provably did nothing, everything else is unknown. */
function otherwise(status: number, code: string): CasOutcome {
  const error = `${status}${code === '' ? '' : ` ${code}`}`;
  return (status >= 400 && status < 500) || status === 503 ? { type: 'fail', error } : { type: 'info', error };
}

/** GET /key/<k>?meta=true: 200 {value, version} or 404 GRAFTD_KEY_NOT_FOUND (absent, version 0). */
export function classifyMetaRead(status: number, body: string): CasOutcome {
  const { json, code } = parse(body);
  if (status === 200) {
    const o = observed(json);
    return o === undefined || o === null
      ? { type: 'info', error: '200 without value and version' }
      : { type: 'ok', value: o.value, version: o.version };
  }
  if (status === 404 && code === 'GRAFTD_KEY_NOT_FOUND') return { type: 'ok', value: null, version: 0 };
  return otherwise(status, code);
}

/** PUT /key/<k> with conditions: 200 written; 412 GRAFTD_CONDITION_FAILED with `current` (null: absent). */
export function classifyCas(status: number, body: string): CasOutcome {
  const { json, code } = parse(body);
  if (status === 200) return { type: 'ok', succeeded: true };
  if (status === 412 && code === 'GRAFTD_CONDITION_FAILED') {
    const current = json === undefined || !('current' in json) ? undefined : observed(json.current);
    return current === undefined ? { type: 'info', error: '412 without a readable current' } : { type: 'ok', succeeded: false, current };
  }
  return otherwise(status, code);
}

/** POST /txn on one key: 200 {succeeded, results} with one get result per get of the branch that ran. */
export function classifyTxn(status: number, body: string, txn: KeyTxn): CasOutcome {
  const { json, code } = parse(body);
  if (status !== 200) return otherwise(status, code);
  const results = json?.results;
  if (typeof json?.succeeded !== 'boolean' || !Array.isArray(results)) return { type: 'info', error: '200 without succeeded/results' };
  const branch = json.succeeded ? txn.success : txn.failure;
  if (results.length !== branch.length) return { type: 'info', error: `200 with ${results.length} results for ${branch.length} ops` };
  const gets: (Observed | null)[] = [];
  for (const r of results as unknown[]) {
    const x = r as { op?: unknown; kvs?: unknown };
    if (x.op !== 'get') continue;
    const kvs = Array.isArray(x.kvs) ? (x.kvs as unknown[]) : undefined;
    const o = kvs === undefined || kvs.length > 1 ? undefined : observed(kvs[0] ?? null);
    if (o === undefined) return { type: 'info', error: '200 with an unreadable get result' };
    gets.push(o);
  }
  return { type: 'ok', succeeded: json.succeeded, gets };
}

/** The PUT body of a conditional write. */
export function casBody(value: string, cond: CasCondition): Record<string, unknown> {
  return { value, ...cond };
}

const stepJson = (key: string, s: TxnStep): unknown =>
  'put' in s ? { put: { key, value: s.put } } : 'delete' in s ? { delete: { key } } : { get: { key } };

/** The POST /txn body of a single-key transaction. */
export function txnBody(key: string, txn: KeyTxn): Record<string, unknown> {
  return {
    compare: txn.compare.map((c) => ({ key, target: c.target, op: c.op, value: c.value })),
    success: txn.success.map((s) => stepJson(key, s)),
    failure: txn.failure.map((s) => stepJson(key, s)),
  };
}

/** Perform one request and classify it; never throws. */
async function perform(
  clients: NodeClients,
  node: string,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body: unknown,
  classify: (status: number, body: string) => CasOutcome,
): Promise<CasOutcome> {
  try {
    const res = await clients.send(node, method, path, body);
    return classify(res.status, res.body);
  } catch (err) {
    const e = classifyError(err);
    return { type: e.type, ...(e.error === undefined ? {} : { error: e.error }) };
  }
}

const keyPath = (key: string): string => `/key/${encodeURIComponent(key)}`;

/** GET /key/<k>?meta=true[&level=lease]. */
export function metaRead(clients: NodeClients, node: string, key: string, level?: 'lease'): Promise<CasOutcome> {
  return perform(
    clients,
    node,
    'GET',
    `${keyPath(key)}?meta=true${level === undefined ? '' : `&level=${level}`}`,
    undefined,
    classifyMetaRead,
  );
}

/** PUT /key/<k> {value, conditions}. */
export function casPut(clients: NodeClients, node: string, key: string, value: string, cond: CasCondition): Promise<CasOutcome> {
  return perform(clients, node, 'PUT', keyPath(key), casBody(value, cond), classifyCas);
}

/** POST /txn for one key. */
export function keyTxn(clients: NodeClients, node: string, key: string, txn: KeyTxn): Promise<CasOutcome> {
  return perform(clients, node, 'POST', '/txn', txnBody(key, txn), (status, body) => classifyTxn(status, body, txn));
}
