/**
 * Conditional operations in histories: compare-and-set (`cas`, a PUT with ifValue / ifVersion /
 * ifAbsent) and single-key transactions (`txn`), as the checker sees them.
 *
 * Why one normal form: both are "compare, then run one of two branches atomically" on one key, so
 * the history keeps what the client sent (for messages) and this module turns it into one
 * `KeyTxn` that the model executes, the pre-checks and the shrinker reason about (what a branch
 * can leave in the key, what it observed), and the parser validates. Only single-key
 * operations exist here: per-key partitioning (checker.ts) stays valid.
 */
import { GraftdError } from '../errors.ts';

/** What a compare looks at (the per-key subset of the server's targets: revisions are cluster-wide). */
export type CasTarget = 'value' | 'version' | 'exists';
export type CasCompareOp = '=' | '!=' | '<' | '>';

/** One compare on the operation's key. */
export interface CasCompare {
  readonly target: CasTarget;
  readonly op: CasCompareOp;
  readonly value: string | number | boolean;
}

/** One step of a branch, on the operation's key. */
export type TxnStep = { readonly put: string } | { readonly delete: true } | { readonly get: true };

/** A single-key transaction in normal form. */
export interface KeyTxn {
  readonly compare: readonly CasCompare[];
  readonly success: readonly TxnStep[];
  readonly failure: readonly TxnStep[];
}

/** The conditions of a conditional PUT as the client sent them (all must hold). */
export interface CasCondition {
  readonly ifValue?: string;
  readonly ifVersion?: number;
  readonly ifAbsent?: true;
}

/** What a get observed: the key's value and version, or null when absent. */
export interface Observed {
  readonly value: string;
  readonly version: number;
}

function invalid(message: string): GraftdError {
  return new GraftdError('GRAFTD_INVALID_HISTORY', message);
}

const TARGETS: ReadonlySet<string> = new Set(['value', 'version', 'exists']);
const COMPARE_OPS: ReadonlySet<string> = new Set(['=', '!=', '<', '>']);

/** The transaction a conditional PUT of `value` is: compares from the conditions, put on success, get on failure. */
export function casToTxn(cond: CasCondition, value: string): KeyTxn {
  const compare: CasCompare[] = [];
  if (cond.ifValue !== undefined) compare.push({ target: 'value', op: '=', value: cond.ifValue });
  if (cond.ifVersion !== undefined) compare.push({ target: 'version', op: '=', value: cond.ifVersion });
  if (cond.ifAbsent === true) compare.push({ target: 'exists', op: '=', value: false });
  return { compare, success: [{ put: value }], failure: [{ get: true }] };
}

/** Validate a `cond` field of a history event. */
export function toCondition(raw: unknown, where: string): CasCondition {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid(`${where}: expected a cond object, found ${JSON.stringify(raw)}`);
  const r = raw as Record<string, unknown>;
  for (const name of Object.keys(r)) {
    if (name !== 'ifValue' && name !== 'ifVersion' && name !== 'ifAbsent')
      throw invalid(`${where}: unknown condition ${JSON.stringify(name)}`);
  }
  const out: { ifValue?: string; ifVersion?: number; ifAbsent?: true } = {};
  if (r.ifValue !== undefined) {
    if (typeof r.ifValue !== 'string') throw invalid(`${where}: ifValue must be a string, found ${JSON.stringify(r.ifValue)}`);
    out.ifValue = r.ifValue;
  }
  if (r.ifVersion !== undefined) {
    if (typeof r.ifVersion !== 'number' || !Number.isSafeInteger(r.ifVersion) || r.ifVersion < 0)
      throw invalid(`${where}: ifVersion must be a whole number, found ${JSON.stringify(r.ifVersion)}`);
    out.ifVersion = r.ifVersion;
  }
  if (r.ifAbsent !== undefined) {
    if (r.ifAbsent !== true) throw invalid(`${where}: ifAbsent must be true, found ${JSON.stringify(r.ifAbsent)}`);
    out.ifAbsent = true;
  }
  if (Object.keys(out).length === 0) throw invalid(`${where}: a cas needs at least one condition`);
  return out;
}

function toStep(raw: unknown, where: string): TxnStep {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`${where}: expected a step object`);
  const r = raw as Record<string, unknown>;
  const names = Object.keys(r);
  if (names.length !== 1) throw invalid(`${where}: a step has exactly one of put, delete, get`);
  if (typeof r.put === 'string') return { put: r.put };
  if (r.delete === true) return { delete: true };
  if (r.get === true) return { get: true };
  throw invalid(`${where}: expected {"put": "value"}, {"delete": true} or {"get": true}, found ${JSON.stringify(raw)}`);
}

/** Validate a `txn` field of a history event. */
export function toKeyTxn(raw: unknown, where: string): KeyTxn {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`${where}: expected a txn object`);
  const r = raw as Record<string, unknown>;
  const list = (name: string): unknown[] => {
    const v = r[name] ?? [];
    if (!Array.isArray(v)) throw invalid(`${where}: ${name} must be an array`);
    return v;
  };
  const compare = list('compare').map((c, i): CasCompare => {
    const at = `${where}: compare[${i}]`;
    if (typeof c !== 'object' || c === null) throw invalid(`${at} must be an object`);
    const x = c as Record<string, unknown>;
    if (typeof x.target !== 'string' || !TARGETS.has(x.target)) throw invalid(`${at}.target must be value|version|exists`);
    if (typeof x.op !== 'string' || !COMPARE_OPS.has(x.op)) throw invalid(`${at}.op must be =|!=|<|>`);
    const want = x.target === 'value' ? 'string' : x.target === 'version' ? 'number' : 'boolean';
    if (typeof x.value !== want) throw invalid(`${at}.value must be a ${want}`);
    if (x.target === 'exists' && x.op !== '=' && x.op !== '!=') throw invalid(`${at}: exists compares only with = and !=`);
    return { target: x.target as CasTarget, op: x.op as CasCompareOp, value: x.value as string | number | boolean };
  });
  return {
    compare,
    success: list('success').map((s, i) => toStep(s, `${where}: success[${i}]`)),
    failure: list('failure').map((s, i) => toStep(s, `${where}: failure[${i}]`)),
  };
}

/** Validate an observation (`current`, an entry of `gets`): null or {value, version ≥ 1}. */
export function toObserved(raw: unknown, where: string): Observed | null {
  if (raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`${where}: expected null or {value, version}`);
  const r = raw as Record<string, unknown>;
  if (typeof r.value !== 'string') throw invalid(`${where}: value must be a string`);
  if (typeof r.version !== 'number' || !Number.isSafeInteger(r.version) || r.version < 1)
    throw invalid(`${where}: version must be a whole number ≥ 1`);
  return { value: r.value, version: r.version };
}

function cmp<T extends string | number | boolean>(a: T, op: CasCompareOp, b: T): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '>':
      return a > b;
  }
}

/** Whether `c` holds on a key with `value` (null: absent) and `version` — the server's rules (docs/api.md). */
export function compareHolds(c: CasCompare, value: string | null, version: number): boolean {
  switch (c.target) {
    case 'value':
      // A value compare on an absent key is false whatever the op.
      return value !== null && cmp(value, c.op, c.value as string);
    case 'version':
      return cmp(version, c.op, c.value as number);
    case 'exists':
      return cmp(value !== null, c.op, c.value as boolean);
  }
}

/** What a branch leaves in the key, if it changes it: the last put's value, null for a delete, undefined for none. */
export function branchEffect(steps: readonly TxnStep[]): string | null | undefined {
  let effect: string | null | undefined;
  for (const s of steps) {
    if ('put' in s) effect = s.put;
    else if ('delete' in s) effect = null;
  }
  return effect;
}

/** How many gets come before the branch's first put or delete (those observe the state before the operation). */
export function leadingGets(steps: readonly TxnStep[]): number {
  let n = 0;
  for (const s of steps) {
    if (!('get' in s)) break;
    n++;
  }
  return n;
}
