/**
 * The replicated key-value state machine: keys with revisions, leases, and the transactions that
 * change them, mutated only by applying committed log entries.
 *
 * Why it looks like this: determinism first. Every node applies the same entries in the same
 * order, so apply depends on nothing but the entry bytes and its log index (never a clock: lease
 * *expiry* is decided by the leader's lessor and arrives here as an `expire` command); every
 * command is validated completely before the first mutation, so it applies entirely or not at all.
 *
 * Keys live in a B+tree (sorted-btree) of immutable records: range reads walk it in key order, and
 * a snapshot is an O(1) copy-on-write clone taken synchronously, so a million keys are captured
 * without a pause and streamed out while writes continue. Leases keep the set of their keys (rebuilt
 * from the records on restore, never stored twice).
 *
 * Every revision's key changes are also recorded in a bounded in-memory history and handed to
 * change listeners as the revision is applied (history.ts): what watch streams are served from.
 */
import BTreeModule from 'sorted-btree';
import { bulkLoad } from 'sorted-btree/extended/bulkLoad.js';
import { ChangeHistory, type HistoryLimits, type KeyChange, type RevisionChanges } from './history.ts';
import { type DecodedCompare, type DecodedLeaseOp, type DecodedTxn, decodeAnyCommand } from './txn-command.ts';
import {
  DEFAULT_RANGE_LIMIT,
  MAX_RANGE_PAGE_CHARS,
  type KeyValue,
  type LeaseGrant,
  type RangeRequest,
  type RangeResult,
  type TxnOpResult,
  formatLeaseId,
} from './types.ts';

// sorted-btree is CommonJS with `exports.default = BTree`: imported from ESM the class sits on `.default`.
const BTree = BTreeModule.default;
export type KeyTree = InstanceType<typeof BTreeModule.default<string, KeyRecord>>;

/** One key's value and metadata. Never mutated: a write replaces the record (snapshots share them). */
export interface KeyRecord {
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** Lease id, 0 for none. */
  readonly lease: number;
}

/** A lease as the state machine keeps it. The lessor reads `renewedAt` to see keepalives. */
export interface LeaseRecord {
  readonly id: number;
  readonly ttl: number;
  /** Log index of the grant or of the latest keepalive. */
  renewedAt: number;
  /** Keys attached to it (maintained by put/delete). */
  readonly keys: Set<string>;
}

/** What applying one command produced (returned to the proposer; forwarded proposals get it encoded). */
export interface KvApplyResult {
  /** The store's revision after the command. */
  readonly revision: number;
  /** txn: whether the compares held. */
  readonly succeeded?: boolean;
  /** txn: the executed branch's results. */
  readonly results?: readonly TxnOpResult[];
  /** lease grant/keepalive. */
  readonly lease?: LeaseGrant;
  /** lease revoke/expire: keys deleted. */
  readonly deleted?: number;
  /** lease expire: false when the lease was renewed (or gone) since the leader decided. */
  readonly expired?: boolean;
  /** A refusal that left the state unchanged (e.g. a put naming a lease that does not exist). */
  readonly error?: { readonly code: 'GRAFTD_LEASE_NOT_FOUND'; readonly message: string };
}

/** The parts a store is built from (snapshot restore) and a point-in-time view is made of. */
export interface StoreState {
  readonly tree: KeyTree;
  readonly revision: number;
  readonly nextLeaseId: number;
  /** [id, ttl, renewedAt] */
  readonly leases: readonly (readonly [number, number, number])[];
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Branching factor of the key tree (sorted-btree's default). */
const KEY_TREE_NODE_SIZE = 32;

/** An empty key tree with the store's key order (UTF-16 code units). */
export function newKeyTree(): KeyTree {
  return new BTree<string, KeyRecord>(undefined, compareKeys, KEY_TREE_NODE_SIZE);
}

/**
 * A key tree built in one pass from keys in strictly ascending order (a snapshot being restored):
 * O(n) with full leaves, instead of n searches and splits. The arrays are taken over.
 */
export function keyTreeFromSorted(keys: string[], records: KeyRecord[]): KeyTree {
  if (keys.length === 0) return newKeyTree();
  return bulkLoad(keys, records, KEY_TREE_NODE_SIZE, compareKeys, 1) as KeyTree;
}

const NO_LEASE_ERROR = (id: number): NonNullable<KvApplyResult['error']> => ({
  code: 'GRAFTD_LEASE_NOT_FOUND',
  message: `lease ${formatLeaseId(id)} not found (never granted, revoked or expired)`,
});

/** Told about each applied revision's changes, and about a jump of the state (an installed snapshot). */
export interface ChangeListener {
  changed(entry: RevisionChanges): void;
  /** The state was replaced by a snapshot at `revision`: changes up to it were not seen one by one. */
  reset(revision: number): void;
}

/** In-memory key-value state driven by committed log entries. */
export class KvStore {
  #tree: KeyTree;
  #revision: number;
  #nextLeaseId: number;
  #leases: Map<number, LeaseRecord>;
  readonly #history: ChangeHistory;
  readonly #listeners = new Set<ChangeListener>();
  /** Changes of the revision being applied. */
  #changes: KeyChange[] = [];

  /** An empty store, or one rebuilt from `state` (adopted, not copied); `historyLimits` bound the change history. */
  constructor(state?: StoreState, historyLimits?: HistoryLimits) {
    this.#tree = state?.tree ?? newKeyTree();
    this.#revision = state?.revision ?? 0;
    this.#history = new ChangeHistory(this.#revision, historyLimits);
    this.#nextLeaseId = state?.nextLeaseId ?? 1;
    this.#leases = new Map();
    for (const [id, ttl, renewedAt] of state?.leases ?? []) this.#leases.set(id, { id, ttl, renewedAt, keys: new Set() });
    if (state !== undefined) {
      this.#tree.forEachPair((key, rec) => {
        if (rec.lease !== 0) this.#leases.get(rec.lease)?.keys.add(key);
      });
    }
  }

  /**
   * Apply one committed entry's data at log `index`. Empty data (the leader's no-op entry) changes
   * nothing. Throws GRAFTD_CORRUPT (without mutating) on a malformed command.
   */
  apply(data: Uint8Array, index = 0): KvApplyResult {
    if (data.length === 0) return { revision: this.#revision };
    const cmd = decodeAnyCommand(data);
    switch (cmd.kind) {
      case 'set':
        return this.#applySet(cmd.flat);
      case 'del':
        return this.#applyDel(cmd.flat);
      case 'txn':
        return this.#applyTxn(cmd.txn);
      case 'lease':
        return this.#applyLease(cmd.op, index);
    }
  }

  /** The store's revision: raised by one for every applied request that changed a key. */
  get revision(): number {
    return this.#revision;
  }

  /** The value of `key`, or undefined when absent. */
  get(key: string): string | undefined {
    return this.#tree.get(key)?.value;
  }

  /** The record of `key`, or undefined when absent. */
  record(key: string): KeyRecord | undefined {
    return this.#tree.get(key);
  }

  /** `key` with its metadata, or undefined when absent. */
  keyValue(key: string): KeyValue | undefined {
    const rec = this.#tree.get(key);
    return rec === undefined ? undefined : toKeyValue(key, rec, false);
  }

  /** One page of a range read (see RangeRequest). `limit` must already be validated. */
  range(request: RangeRequest): RangeResult {
    const limit = request.limit ?? DEFAULT_RANGE_LIMIT;
    const { kvs, more } = this.#scan(request, limit, request.keysOnly === true);
    return { revision: this.#revision, kvs, more, next: more ? kvs[kvs.length - 1]!.key : null };
  }

  /** Whether every compare holds on the current state (what a txn's branch choice is made on). */
  holds(compares: readonly DecodedCompare[]): boolean {
    return compares.every((c) => this.#holds(c));
  }

  /** Number of keys. */
  get size(): number {
    return this.#tree.size;
  }

  /** Keys in order (live). */
  keys(): IterableIterator<string> {
    return this.#tree.keys();
  }

  /** [key, value] pairs in key order (live iterator; take `Array.from` for a copy). */
  *entries(): IterableIterator<[string, string]> {
    for (const [key, rec] of this.#tree.entries()) yield [key, rec.value];
  }

  /** The leases, by id (read-only use: the lessor and lease reads). */
  get leases(): ReadonlyMap<number, Readonly<LeaseRecord>> {
    return this.#leases;
  }

  /** A point-in-time view for a snapshot: O(1) for the keys (copy-on-write clone), O(leases) for the lease table. */
  view(): StoreState {
    const leases: [number, number, number][] = [];
    for (const l of this.#leases.values()) leases.push([l.id, l.ttl, l.renewedAt]);
    leases.sort((a, b) => a[0] - b[0]);
    return { tree: this.#tree.clone(), revision: this.#revision, nextLeaseId: this.#nextLeaseId, leases };
  }

  /** The recent revisions' changes (watch replay). */
  get history(): ChangeHistory {
    return this.#history;
  }

  /** Follow applied changes; returns the unsubscribe function. Listeners run inside apply: they must be quick and must not throw. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Remove every key and lease (the revision and lease counter stay). */
  clear(): void {
    this.#tree = newKeyTree();
    this.#leases = new Map();
    this.#jumped();
  }

  /** Take over `other`'s contents (O(1)): installs a restored snapshot into a store others hold a reference to. `other` is left empty. */
  replaceWith(other: KvStore): void {
    if (other === this) return;
    this.#tree = other.#tree;
    this.#revision = other.#revision;
    this.#nextLeaseId = other.#nextLeaseId;
    this.#leases = other.#leases;
    other.#tree = newKeyTree();
    other.#leases = new Map();
    this.#jumped();
  }

  /** The state changed other than by applying revisions one by one. */
  #jumped(): void {
    this.#changes = [];
    this.#history.reset(this.#revision);
    for (const l of this.#listeners) l.reset(this.#revision);
  }

  /** `rev` was applied with the changes collected since the last commit. */
  #commit(rev: number): void {
    this.#revision = rev;
    const entry = { revision: rev, changes: this.#changes };
    this.#changes = [];
    this.#history.append(entry);
    for (const l of this.#listeners) l.changed(entry);
  }

  // ---------------------------------------------------------------- apply

  #applySet(flat: readonly string[]): KvApplyResult {
    if (flat.length === 0) return { revision: this.#revision };
    const rev = this.#revision + 1;
    for (let i = 0; i < flat.length; i += 2) this.#put(flat[i]!, flat[i + 1]!, 0, rev);
    this.#commit(rev);
    return { revision: rev };
  }

  #applyDel(keys: readonly string[]): KvApplyResult {
    let deleted = 0;
    const rev = this.#revision + 1;
    for (const key of keys) if (this.#delete(key, rev)) deleted++;
    if (deleted > 0) this.#commit(rev);
    return { revision: this.#revision, deleted };
  }

  #applyTxn(txn: DecodedTxn): KvApplyResult {
    const succeeded = txn.compares.every((c) => this.#holds(c));
    const ops = succeeded ? txn.success : txn.failure;
    for (const op of ops) {
      if (op.kind === 'put' && op.lease !== 0 && !this.#leases.has(op.lease))
        return { revision: this.#revision, error: NO_LEASE_ERROR(op.lease) };
    }
    const rev = this.#revision + 1;
    let wrote = false;
    const results: TxnOpResult[] = [];
    for (const op of ops) {
      switch (op.kind) {
        case 'put':
          this.#put(op.key, op.value, op.lease, rev);
          wrote = true;
          results.push({ op: 'put', key: op.key });
          break;
        case 'delete': {
          const deleted = this.#delete(op.key, rev) ? 1 : 0;
          wrote ||= deleted > 0;
          results.push({ op: 'delete', deleted });
          break;
        }
        case 'deletePrefix': {
          const deleted = this.#deletePrefix(op.prefix, rev);
          wrote ||= deleted > 0;
          results.push({ op: 'delete', deleted });
          break;
        }
        case 'get': {
          const rec = this.#tree.get(op.key);
          results.push({ op: 'get', kvs: rec === undefined ? [] : [toKeyValue(op.key, rec, false)], more: false });
          break;
        }
        case 'getPrefix': {
          const { kvs, more } = this.#scan({ prefix: op.prefix }, op.limit, false);
          results.push({ op: 'get', kvs, more });
          break;
        }
      }
    }
    if (wrote) this.#commit(rev);
    return { revision: this.#revision, succeeded, results };
  }

  #applyLease(op: DecodedLeaseOp, index: number): KvApplyResult {
    if (op.kind === 'grant') {
      const id = this.#nextLeaseId++;
      this.#leases.set(id, { id, ttl: op.ttl, renewedAt: index, keys: new Set() });
      return { revision: this.#revision, lease: { id: formatLeaseId(id), ttl: op.ttl } };
    }
    const lease = this.#leases.get(op.id);
    if (lease === undefined) {
      if (op.kind === 'expire') return { revision: this.#revision, deleted: 0, expired: false };
      return { revision: this.#revision, error: NO_LEASE_ERROR(op.id) };
    }
    if (op.kind === 'keepalive') {
      lease.renewedAt = index;
      return { revision: this.#revision, lease: { id: formatLeaseId(lease.id), ttl: lease.ttl } };
    }
    if (op.kind === 'expire' && lease.renewedAt !== op.renewedAt) return { revision: this.#revision, deleted: 0, expired: false };
    // revoke, or an expiry the leader decided on the lease's latest renewal
    const keys = [...lease.keys].sort();
    const rev = this.#revision + 1;
    for (const key of keys) this.#delete(key, rev);
    this.#leases.delete(lease.id);
    if (keys.length > 0) this.#commit(rev);
    return { revision: this.#revision, deleted: keys.length, ...(op.kind === 'expire' ? { expired: true } : {}) };
  }

  #put(key: string, value: string, lease: number, rev: number): void {
    const old = this.#tree.get(key);
    if (old !== undefined && old.lease !== 0 && old.lease !== lease) this.#leases.get(old.lease)?.keys.delete(key);
    if (lease !== 0) this.#leases.get(lease)!.keys.add(key);
    const rec: KeyRecord =
      old === undefined
        ? { value, createRevision: rev, modRevision: rev, version: 1, lease }
        : { value, createRevision: old.createRevision, modRevision: rev, version: old.version + 1, lease };
    this.#tree.set(key, rec);
    this.#changes.push(
      old === undefined
        ? { type: 'put', key, value, createRevision: rec.createRevision, modRevision: rev, version: rec.version }
        : { type: 'put', key, value, createRevision: rec.createRevision, modRevision: rev, version: rec.version, prevValue: old.value },
    );
  }

  #delete(key: string, rev: number): boolean {
    const old = this.#tree.get(key);
    if (old === undefined) return false;
    if (old.lease !== 0) this.#leases.get(old.lease)?.keys.delete(key);
    this.#tree.delete(key);
    this.#changes.push({ type: 'delete', key, createRevision: 0, modRevision: rev, version: 0, prevValue: old.value });
    return true;
  }

  #deletePrefix(prefix: string, rev: number): number {
    const keys: string[] = [];
    for (const [key] of this.#tree.entries(prefix)) {
      if (!key.startsWith(prefix)) break;
      keys.push(key);
    }
    for (const key of keys) this.#delete(key, rev);
    return keys.length;
  }

  /** Keys of `range` in order, at most `limit`, and whether more follow. */
  #scan(range: RangeRequest, limit: number, keysOnly: boolean): { kvs: KeyValue[]; more: boolean } {
    const prefix = 'prefix' in range ? range.prefix : undefined;
    const start = prefix ?? ('start' in range ? range.start : '');
    const end = prefix === undefined && 'end' in range ? range.end : undefined;
    const after = range.after;
    const from = after !== undefined && after >= start ? after : start;
    const kvs: KeyValue[] = [];
    let chars = 0;
    for (const [key, rec] of this.#tree.entries(from)) {
      if (after !== undefined && key <= after) continue;
      if (prefix !== undefined ? !key.startsWith(prefix) : end !== undefined && key >= end) break;
      // The page ends at `limit` keys or, whatever the limit, once it holds about MAX_RANGE_PAGE_CHARS of
      // keys and values (at least one key): 10 000 large values must not become one multi-GB answer.
      const size = key.length + (keysOnly ? 0 : rec.value.length);
      if (kvs.length === limit || (kvs.length > 0 && chars + size > MAX_RANGE_PAGE_CHARS)) return { kvs, more: true };
      chars += size;
      kvs.push(toKeyValue(key, rec, keysOnly));
    }
    return { kvs, more: false };
  }

  #holds(c: DecodedCompare): boolean {
    const rec = this.#tree.get(c.key);
    if (c.target === 'exists') return (rec !== undefined) === c.value ? c.op === '=' : c.op === '!=';
    if (c.target === 'value' && rec === undefined) return false;
    const actual: string | number =
      c.target === 'value'
        ? rec!.value
        : c.target === 'version'
          ? (rec?.version ?? 0)
          : c.target === 'modRevision'
            ? (rec?.modRevision ?? 0)
            : c.target === 'createRevision'
              ? (rec?.createRevision ?? 0)
              : (rec?.lease ?? 0);
    const expected = c.value as string | number;
    switch (c.op) {
      case '=':
        return actual === expected;
      case '!=':
        return actual !== expected;
      case '<':
        return actual < expected;
      case '>':
        return actual > expected;
    }
  }
}

/** The API shape of a record. */
export function toKeyValue(key: string, rec: KeyRecord, keysOnly: boolean): KeyValue {
  const { createRevision, modRevision, version } = rec;
  const lease = formatLeaseId(rec.lease);
  // Built directly (no intermediate object and spread): this runs for every plain GET /key (its revision header) and every key of a range page.
  return keysOnly
    ? { key, createRevision, modRevision, version, lease }
    : { key, value: rec.value, createRevision, modRevision, version, lease };
}
