/**
 * The client's coordination calls (issue 13): key metadata, range reads, conditional writes,
 * transactions and leases, over the routes of docs/api.md → Coordination.
 *
 * Why a separate module: GraftdClient (client.ts) owns the transport — endpoints, the leader,
 * retries; this file only builds requests and checks answers, so it reaches the cluster through
 * the one `exchange` function the client hands it and inherits its retry rules unchanged. Every
 * conditional write, transaction, grant and revoke is sent as a 'write': retried only when it
 * provably had no effect (not sent, 503), never after an outcome-unknown failure — a CAS that may
 * have been applied must not be applied twice. Keepalives are the exception (see leaseKeepAlive).
 */
import type { ReadLevel } from '../node/api.ts';
import type { KeyValue, LeaseGrant, LeaseInfo, LeaseRevokeResult, RangeRequest, RangeResult, TxnRequest, TxnResult } from '../kv/types.ts';
import type { AttemptAnswer, AttemptRequest } from './attempt.ts';
import { GraftdClientError } from './errors.ts';

/**
 * How coordination calls reach the cluster: GraftdClient's retry loop. 'read' may be retried after
 * any failure, 'write' only when it provably had no effect. An answer whose server code is in
 * `acceptCodes` is returned instead of thrown.
 */
export type Exchange = (request: AttemptRequest, kind: 'read' | 'write', acceptCodes?: readonly string[]) => Promise<AttemptAnswer>;

/** The conditions of a conditional put or delete; all given must hold. */
export interface WriteConditions {
  /** The key's modRevision must be this (0: the key must be absent). */
  readonly ifModRevision?: number;
  /** The key's version must be this (0: absent). */
  readonly ifVersion?: number;
  /** The key must exist with this value. */
  readonly ifValue?: string;
}

export interface PutOptions extends WriteConditions {
  /** Attach the key to this lease (its id); the key is deleted when the lease ends. */
  readonly lease?: string;
  /** The key must not exist. */
  readonly ifAbsent?: boolean;
}

/** A conditional write's condition did not hold: nothing was written. `current` is the key as it is (null: absent). */
export class ConditionFailedError extends GraftdClientError {
  readonly current: KeyValue | null;
  constructor(message: string, current: KeyValue | null, endpoint: string) {
    super('GRAFTD_CONDITION_FAILED', message, { status: 412, endpoint });
    this.name = 'ConditionFailedError';
    this.current = current;
  }
}

/** The revision header of every key and lease answer (0 when absent, e.g. a relay through an old node). */
export const revisionHeader = 'x-graftd-revision';

function revisionOf(answer: AttemptAnswer): number {
  const n = Number(answer.headers[revisionHeader]);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

function badResponse(answer: AttemptAnswer, expected: string): GraftdClientError {
  return new GraftdClientError('GRAFTD_CLIENT_BAD_RESPONSE', `${answer.endpoint}: expected ${expected}, got ${answer.text.slice(0, 80)}`, {
    status: answer.status,
    endpoint: answer.endpoint,
  });
}

/** The answer's JSON object, its listed fields of the listed types present, else GRAFTD_CLIENT_BAD_RESPONSE. */
function objectWith(
  answer: AttemptAnswer,
  fields: Readonly<Record<string, 'string' | 'number' | 'boolean' | 'object'>>,
): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw badResponse(answer, 'a JSON object');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badResponse(answer, 'a JSON object');
  const record = body as Record<string, unknown>;
  for (const [field, type] of Object.entries(fields)) {
    const value = record[field];
    if (type === 'object' ? value === undefined || typeof value !== 'object' : typeof value !== type) {
      throw badResponse(answer, `"${field}" as a ${type === 'object' ? 'JSON value' : type}`);
    }
  }
  return record;
}

function keyPath(key: string): string {
  return `/key/${encodeURIComponent(key)}`;
}

function query(params: Readonly<Record<string, string | number | boolean | undefined>>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) parts.push(`${name}=${encodeURIComponent(String(value))}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function levelParam(level: ReadLevel): string | undefined {
  return level === 'linearizable' ? undefined : level;
}

function checkLeaseId(id: string): void {
  if (!/^[0-9a-f]{1,13}$/.test(id)) {
    throw new GraftdClientError('GRAFTD_CLIENT_BAD_ARGUMENT', `invalid lease id ${JSON.stringify(id)}: expected lower-case hex, e.g. 1f`);
  }
}

function conditionsGiven(c: PutOptions): boolean {
  return c.ifModRevision !== undefined || c.ifVersion !== undefined || c.ifValue !== undefined || c.ifAbsent === true;
}

/** A 412 answer as the error it stands for. */
function conditionFailed(answer: AttemptAnswer, key: string): ConditionFailedError {
  const body = objectWith(answer, { error: 'string', current: 'object' });
  const current = body.current as KeyValue | null;
  return new ConditionFailedError(`${answer.endpoint}: ${String(body.error)} (key ${JSON.stringify(key)})`, current, answer.endpoint);
}

/** The coordination calls of one GraftdClient (it delegates to these). */
export class Coordination {
  readonly #exchange: Exchange;

  constructor(exchange: Exchange) {
    this.#exchange = exchange;
  }

  /** `key` with its metadata (`kv` undefined when absent) and the revision it was read at. */
  async getMeta(key: string, level: ReadLevel = 'linearizable'): Promise<{ kv: KeyValue | undefined; revision: number }> {
    const path = `${keyPath(key)}${query({ meta: true, level: levelParam(level) })}`;
    const answer = await this.#exchange({ method: 'GET', path }, 'read', ['GRAFTD_KEY_NOT_FOUND']);
    const revision = revisionOf(answer);
    if (answer.status === 404) return { kv: undefined, revision };
    const body = objectWith(answer, { key: 'string', createRevision: 'number', modRevision: 'number', version: 'number', lease: 'string' });
    return { kv: body as unknown as KeyValue, revision };
  }

  /** One page of keys (sorted), all from one revision. Pass `next` as `after` for the following page. */
  async range(request: RangeRequest, level: ReadLevel = 'linearizable'): Promise<RangeResult> {
    const bounds =
      'prefix' in request
        ? { prefix: request.prefix }
        : { start: request.start, ...(request.end === undefined ? {} : { end: request.end }) };
    const path = `/keys${query({
      ...bounds,
      after: request.after,
      limit: request.limit,
      keysOnly: request.keysOnly === true ? true : undefined,
      level: levelParam(level),
    })}`;
    const answer = await this.#exchange({ method: 'GET', path }, 'read');
    const body = objectWith(answer, { revision: 'number', kvs: 'object', more: 'boolean' });
    if (!Array.isArray(body.kvs)) throw badResponse(answer, '"kvs" as an array');
    return {
      revision: body.revision as number,
      kvs: body.kvs as KeyValue[],
      more: body.more as boolean,
      next: (body.next as string | null) ?? null,
    };
  }

  /**
   * Every key of the range, page by page (`request.limit` keys per request). Each page is from
   * one revision; pages read later may be from later revisions (a key changed in between shows
   * its newer state, a key added before the cursor is not seen).
   */
  async *rangeAll(request: RangeRequest, level: ReadLevel = 'linearizable'): AsyncGenerator<KeyValue, void, undefined> {
    let after = request.after;
    for (;;) {
      const page = await this.range({ ...request, ...(after === undefined ? {} : { after }) }, level);
      yield* page.kvs;
      if (!page.more || page.next === null) return;
      after = page.next;
    }
  }

  /**
   * Write `key` (PUT /key/<k>), attached to `options.lease` when given, only if every condition
   * holds. Resolves with the revision of the write; throws ConditionFailedError (with the key's
   * current state) when a condition did not hold.
   */
  async put(key: string, value: string, options: PutOptions = {}): Promise<{ revision: number }> {
    const body = {
      value,
      ...(options.lease === undefined ? {} : { lease: options.lease }),
      ...(options.ifModRevision === undefined ? {} : { ifModRevision: options.ifModRevision }),
      ...(options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion }),
      ...(options.ifValue === undefined ? {} : { ifValue: options.ifValue }),
      ...(options.ifAbsent === true ? { ifAbsent: true } : {}),
    };
    const answer = await this.#exchange({ method: 'PUT', path: keyPath(key), body: JSON.stringify(body) }, 'write', [
      'GRAFTD_CONDITION_FAILED',
    ]);
    if (answer.status === 412) throw conditionFailed(answer, key);
    return { revision: objectWith(answer, { revision: 'number' }).revision as number };
  }

  /**
   * Delete `key` only if every condition holds (at least one is required; `del` deletes
   * unconditionally). Resolves with the revision and the number of keys deleted (0 or 1);
   * throws ConditionFailedError when a condition did not hold.
   */
  async deleteIf(key: string, conditions: WriteConditions): Promise<{ revision: number; deleted: number }> {
    if (!conditionsGiven(conditions)) {
      throw new GraftdClientError(
        'GRAFTD_CLIENT_BAD_ARGUMENT',
        'deleteIf needs a condition (ifModRevision, ifVersion or ifValue); use del()',
      );
    }
    const path = `${keyPath(key)}${query({ ifModRevision: conditions.ifModRevision, ifVersion: conditions.ifVersion, ifValue: conditions.ifValue })}`;
    const answer = await this.#exchange({ method: 'DELETE', path }, 'write', ['GRAFTD_CONDITION_FAILED']);
    if (answer.status === 412) throw conditionFailed(answer, key);
    const body = objectWith(answer, { revision: 'number', deleted: 'number' });
    return { revision: body.revision as number, deleted: body.deleted as number };
  }

  /** An atomic transaction (POST /txn). `succeeded` false means the failure branch ran — not an error. */
  async txn(request: TxnRequest): Promise<TxnResult> {
    const answer = await this.#exchange({ method: 'POST', path: '/txn', body: JSON.stringify(request) }, 'write');
    const body = objectWith(answer, { succeeded: 'boolean', revision: 'number', results: 'object' });
    if (!Array.isArray(body.results)) throw badResponse(answer, '"results" as an array');
    return body as unknown as TxnResult;
  }

  /** Grant a lease of `ttlSeconds` (the server raises it to its minimum TTL). */
  async leaseGrant(ttlSeconds: number): Promise<LeaseGrant> {
    const answer = await this.#exchange({ method: 'POST', path: '/lease', body: JSON.stringify({ ttl: ttlSeconds }) }, 'write');
    return objectWith(answer, { id: 'string', ttl: 'number' }) as unknown as LeaseGrant;
  }

  /**
   * Renew a lease to its full TTL. Sent as a read (retried after any failure, an unknown outcome
   * included): renewing twice only starts the TTL again from the later renewal, and a lease that
   * ended in between answers GRAFTD_LEASE_NOT_FOUND either way.
   */
  async leaseKeepAlive(id: string): Promise<LeaseGrant> {
    checkLeaseId(id);
    const answer = await this.#exchange({ method: 'POST', path: `/lease/${id}/keepalive` }, 'read');
    return objectWith(answer, { id: 'string', ttl: 'number' }) as unknown as LeaseGrant;
  }

  /** Revoke a lease; its keys are deleted in one revision. */
  async leaseRevoke(id: string): Promise<LeaseRevokeResult> {
    checkLeaseId(id);
    const answer = await this.#exchange({ method: 'DELETE', path: `/lease/${id}` }, 'write');
    return objectWith(answer, { revision: 'number', deleted: 'number' }) as unknown as LeaseRevokeResult;
  }

  /** One lease: its TTL, the seconds left, its keys; undefined when there is no such lease. */
  async leaseGet(id: string, level: ReadLevel = 'linearizable'): Promise<(LeaseInfo & { revision: number }) | undefined> {
    checkLeaseId(id);
    const answer = await this.#exchange({ method: 'GET', path: `/lease/${id}${query({ level: levelParam(level) })}` }, 'read', [
      'GRAFTD_LEASE_NOT_FOUND',
    ]);
    if (answer.status === 404) return undefined;
    const body = objectWith(answer, { id: 'string', ttl: 'number', remaining: 'number', keys: 'object', moreKeys: 'boolean' });
    return { ...(body as unknown as LeaseInfo), revision: revisionOf(answer) };
  }

  /** Every lease (without their keys), sorted by id. */
  async leaseList(level: ReadLevel = 'linearizable'): Promise<{ revision: number; leases: LeaseInfo[] }> {
    const answer = await this.#exchange({ method: 'GET', path: `/leases${query({ level: levelParam(level) })}` }, 'read');
    const body = objectWith(answer, { revision: 'number', leases: 'object' });
    if (!Array.isArray(body.leases)) throw badResponse(answer, '"leases" as an array');
    return { revision: body.revision as number, leases: body.leases as LeaseInfo[] };
  }
}
