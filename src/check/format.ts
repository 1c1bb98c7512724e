/**
 * Human-readable rendering of operations for checker messages and reports.
 *
 * Why one place: every message names operations the same way (process, operation, key, value,
 * call/return window), so a reader can find them in the JSONL history and the HTML timeline.
 */
import type { Operation } from './history.ts';

const ms = (t: number): string => (Number.isFinite(t) ? `${t.toFixed(1)}` : '?');

/** `p3 write(k1, "v17") [12.3, 15.6] ms`, `p2 read(k1) → absent [..]`, unknown outcomes end in `?`. */
export function describeOp(o: Operation): string {
  let body: string;
  if (o.op === 'write') body = `write(${o.key}, ${JSON.stringify(o.input)})`;
  else if (o.op === 'delete') body = `delete(${o.key})`;
  else body = `read(${o.key}) → ${o.output === null ? 'absent' : JSON.stringify(o.output)}`;
  const node = o.node === undefined ? '' : ` via ${o.node}`;
  const unknown = o.status === 'info' ? ' (outcome unknown)' : '';
  return `p${o.process}${o.final ? ' final' : ''} ${body} [${ms(o.call)}, ${ms(o.ret)}] ms${node}${unknown}`;
}

/** One operation per line, in call order. */
export function describeOps(ops: readonly Operation[]): string {
  return [...ops]
    .sort((a, b) => a.call - b.call || a.id - b.id)
    .map((o) => `  ${describeOp(o)}`)
    .join('\n');
}
