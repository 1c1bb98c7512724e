/**
 * The coordination data model's public shapes: key metadata, range reads, transactions, leases.
 *
 * Why one file: the state machine (store.ts), the node adapter (src/node/graftd-node.ts), the HTTP
 * routes, the client and graftctl all speak these shapes; they are etcd v3's semantics in graftd's
 * JSON style (docs/api.md "Coordination"), and keeping them together keeps the five in agreement.
 *
 * Revisions: the store has one cluster revision, raised by one for every applied request that
 * changes at least one key (a put, or a delete that removed something). Every key records the
 * revision that created it (`createRevision`), the one that last changed it (`modRevision`) and
 * how many times it was written since it was created (`version`, 1 after the first put). A delete
 * ends the key's life: a later put starts again at version 1 with a new createRevision. An absent
 * key compares as createRevision = modRevision = version = 0.
 */

/** A key with its metadata. `value` is absent in keys-only range results. */
export interface KeyValue {
  readonly key: string;
  readonly value?: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** The lease the key is attached to, as its id string; '' when none. */
  readonly lease: string;
}

/** Which keys a range read or a range delete covers. */
export type KeyRange =
  | { readonly prefix: string }
  /** Keys k with start ≤ k < end (end absent: no upper bound). Ordered by UTF-16 code units (JavaScript string order). */
  | { readonly start: string; readonly end?: string };

/** A range read: `range` plus paging. */
export type RangeRequest = KeyRange & {
  /** Only keys strictly after this one (the previous page's `next`). */
  readonly after?: string;
  /** At most this many keys (1 … MAX_RANGE_LIMIT; default DEFAULT_RANGE_LIMIT). */
  readonly limit?: number;
  /** Leave `value` out of each result. */
  readonly keysOnly?: boolean;
};

/** One page of a range read, all of it from one revision. */
export interface RangeResult {
  /** The store's revision the page was read at. */
  readonly revision: number;
  /** Sorted by key. */
  readonly kvs: readonly KeyValue[];
  /** More keys in the range after this page. */
  readonly more: boolean;
  /** When `more`: the last key of this page (pass it as `after`); otherwise null. */
  readonly next: string | null;
}

export const DEFAULT_RANGE_LIMIT = 1000;
export const MAX_RANGE_LIMIT = 10_000;
/**
 * A range page (and a txn's prefix get) also ends, with `more`, once its keys and values reach about
 * this many characters (4 Mi; at least one key per page): bounds one answer whatever the limit.
 */
export const MAX_RANGE_PAGE_CHARS = 4 * 1024 * 1024;

/** What a compare looks at. */
export type CompareTarget = 'value' | 'version' | 'modRevision' | 'createRevision' | 'exists' | 'lease';
export type CompareOp = '=' | '!=' | '<' | '>';

/**
 * One condition of a transaction, on one key. `value` is a string for `value` and `lease` (the lease
 * id, '' for none), a non-negative integer for the revision/version targets, a boolean for `exists`
 * (only '=' and '!=' then). An absent key has createRevision = modRevision = version = 0 and lease
 * ''; a `value` compare on an absent key is false whatever the op (as in etcd: "absent" is not a
 * value). Strings compare by UTF-16 code units.
 */
export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly op: CompareOp;
  readonly value: string | number | boolean;
}

/** One operation of a transaction branch; executed in order, later ops see earlier ones' effects. */
export type TxnOp =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly delete: { readonly key: string } | { readonly prefix: string } }
  | { readonly get: { readonly key: string } | { readonly prefix: string; readonly limit?: number } };

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

/** The result of one executed op, in the order of the executed branch. */
export type TxnOpResult =
  | { readonly op: 'put'; readonly key: string }
  | { readonly op: 'delete'; readonly deleted: number }
  | { readonly op: 'get'; readonly kvs: readonly KeyValue[]; readonly more: boolean };

export interface TxnResult {
  /** All compares held (the success branch ran). */
  readonly succeeded: boolean;
  /** The store's revision after the transaction (unchanged when it wrote nothing). */
  readonly revision: number;
  readonly results: readonly TxnOpResult[];
}

/** Bounds of one transaction (4xx beyond). */
export const MAX_TXN_COMPARES = 64;
export const MAX_TXN_OPS = 128;

/** A granted or renewed lease. */
export interface LeaseGrant {
  /** Lower-case hexadecimal, no leading zeros (e.g. "1f"). */
  readonly id: string;
  /** Seconds granted (the request's ttl raised to the minimum when below it). */
  readonly ttl: number;
}

export interface LeaseInfo extends LeaseGrant {
  /**
   * Seconds left before the leader expires it, as this node's lease clock sees it (the leader's is
   * authoritative; a follower's is within a heartbeat of it). Fractional.
   */
  readonly remaining: number;
  /** The attached keys, sorted (at most MAX_LEASE_KEYS_LISTED; `moreKeys` when cut). */
  readonly keys: readonly string[];
  readonly moreKeys: boolean;
}

export const MAX_LEASE_KEYS_LISTED = 10_000;
/** Longest lease (one year). */
export const MAX_LEASE_TTL_SECONDS = 365 * 24 * 3600;

/** The result of a lease revoke (or expiry): the keys deleted, at one revision. */
export interface LeaseRevokeResult {
  readonly revision: number;
  readonly deleted: number;
}

/** Lease ids travel as hex strings; inside the state machine they are positive safe integers. */
export function formatLeaseId(id: number): string {
  return id === 0 ? '' : id.toString(16);
}

/** The numeric id of a lease id string, or undefined when it is not one ('' is "no lease" = 0). */
export function parseLeaseId(text: string): number | undefined {
  if (text === '') return 0;
  if (!/^[0-9a-f]{1,13}$/.test(text)) return undefined;
  const n = Number.parseInt(text, 16);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
