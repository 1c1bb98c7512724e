/**
 * Human-readable rendering of operations for checker messages and reports.
 *
 * Why one place: every message names operations the same way (process, operation, key, value,
 * call/return window), so a reader can find them in the JSONL history and the HTML timeline.
 */
import type { CasCompare, Observed, TxnStep } from './cas-ops.ts';
import type { Operation } from './history.ts';

const ms = (t: number): string => (Number.isFinite(t) ? `${t.toFixed(1)}` : '?');

/** `p3 write(k1, "v17") [12.3, 15.6] ms`, `p2 read(k1) → absent [..]`, unknown outcomes end in `?`. */
export function describeOp(o: Operation): string {
  let body: string;
  if (o.op === 'write') body = `write(${o.key}, ${JSON.stringify(o.input)})`;
  else if (o.op === 'delete') body = `delete(${o.key})`;
  else if (o.op === 'read')
    body = `read(${o.key}) → ${o.output === null ? 'absent' : JSON.stringify(o.output)}${o.outputVersion === undefined || o.output === null ? '' : ` (version ${o.outputVersion})`}`;
  else body = `${conditionalBody(o)}${conditionalResult(o)}`;
  const node = o.node === undefined ? '' : ` via ${o.node}`;
  const unknown = o.status === 'info' ? ' (outcome unknown)' : '';
  return `p${o.process}${o.final ? ' final' : ''} ${body} [${ms(o.call)}, ${ms(o.ret)}] ms${node}${unknown}`;
}

const showObserved = (g: Observed | null): string => (g === null ? 'absent' : `${JSON.stringify(g.value)} (version ${g.version})`);
const showCompare = (c: CasCompare): string => `${c.target} ${c.op} ${JSON.stringify(c.value)}`;
const showStep = (s: TxnStep): string => ('put' in s ? `put ${JSON.stringify(s.put)}` : 'delete' in s ? 'delete' : 'get');

/** `cas(k, "v2" if value="v1")`, `txn(k, if version = 3 then [put "a"] else [get])`. */
function conditionalBody(o: Operation): string {
  if (o.op === 'cas' && o.cond !== undefined) {
    const c = o.cond;
    const conds = [
      ...(c.ifValue === undefined ? [] : [`value=${JSON.stringify(c.ifValue)}`]),
      ...(c.ifVersion === undefined ? [] : [`version=${c.ifVersion}`]),
      ...(c.ifAbsent === true ? ['absent'] : []),
    ];
    return `cas(${o.key}, ${JSON.stringify(o.input)} if ${conds.join(' and ')})`;
  }
  const t = o.txn!;
  const branch = (steps: readonly TxnStep[]): string => `[${steps.map(showStep).join(', ')}]`;
  return `txn(${o.key}, if ${t.compare.map(showCompare).join(' and ') || 'true'} then ${branch(t.success)} else ${branch(t.failure)})`;
}

/** ` → succeeded`, ` → failed, current "x" (version 2)`, ` → succeeded, got [absent]`; nothing for an unknown outcome. */
function conditionalResult(o: Operation): string {
  if (o.status !== 'ok' || o.succeeded === undefined) return '';
  const verdict = o.succeeded ? 'succeeded' : 'failed';
  const gets = o.gets ?? [];
  if (o.op === 'cas') return o.succeeded ? ` → ${verdict}` : ` → ${verdict}, current ${showObserved(gets[0] ?? null)}`;
  return ` → ${verdict}${gets.length === 0 ? '' : `, got [${gets.map(showObserved).join(', ')}]`}`;
}

/** One operation per line, in call order. */
export function describeOps(ops: readonly Operation[]): string {
  return [...ops]
    .sort((a, b) => a.call - b.call || a.id - b.id)
    .map((o) => `  ${describeOp(o)}`)
    .join('\n');
}
