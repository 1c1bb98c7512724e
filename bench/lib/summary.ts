/**
 * Rows of the benchmark's tables: the results of one case over its repetitions reduced to
 * medians and a spread, and the Markdown table printer.
 *
 * Why medians: on a shared 2-core machine one repetition can be off by 2–3×; the median of three
 * and the min–max beside it say how far to trust a row.
 */
import { type FsyncProbeResult, fsyncGoalLine, fsyncProbeLine } from './fsync-probe.ts';
import type { CaseResult } from './load.ts';
import type { OpKind } from './targets.ts';
import { fmtMBps, megabytesPerSecond } from './value-sizes.ts';

export const kindLabel: Record<OpKind, string> = {
  write: 'write',
  read: 'read-linearizable',
  stale: 'read-stale',
  cas: 'cas (PUT ifModRevision)',
  txn3: 'txn3 (cmp + put,put,get)',
};

export interface CaseSummary {
  readonly kind: OpKind;
  readonly concurrency: number;
  readonly valueBytes: number;
  readonly rounds: number;
  /** Median, min and max of req/s over the rounds. */
  readonly rps: number;
  readonly rpsMin: number;
  readonly rpsMax: number;
  /** Median req/s × value bytes, in MB/s (10^6 bytes). */
  readonly mbps: number;
  /** Medians over the rounds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Refused CAS over all answered CAS (0 for other cases). */
  readonly conflictShare: number;
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(results: readonly CaseResult[]): CaseSummary {
  const first = results[0]!;
  const rps = results.map((r) => r.requestsPerSecond);
  const ok = results.reduce((a, r) => a + r.ok, 0);
  const conflicts = results.reduce((a, r) => a + r.conflicts, 0);
  return {
    kind: first.kind,
    concurrency: first.concurrency,
    valueBytes: first.valueBytes,
    rounds: results.length,
    rps: median(rps),
    rpsMin: Math.min(...rps),
    rpsMax: Math.max(...rps),
    mbps: megabytesPerSecond(median(rps), first.valueBytes),
    p50Ms: median(results.map((r) => r.p50Ms)),
    p99Ms: median(results.map((r) => r.p99Ms)),
    errors: results.reduce((a, r) => a + r.errors, 0),
    conflictShare: ok + conflicts === 0 ? 0 : conflicts / (ok + conflicts),
  };
}

export const fmt = (n: number, digits: number): string => (Number.isNaN(n) ? '-' : n.toFixed(digits));

/** One line for stderr as a case finishes. */
export function progressLine(prefix: string, r: CaseResult): string {
  const errs = r.errors === 0 ? '' : `  errors: ${[...r.errorKinds].map(([k, n]) => `${k}×${n}`).join(', ')}`;
  const conflicts = r.kind === 'cas' ? `, ${r.conflicts} refused (${fmt((100 * r.conflicts) / Math.max(1, r.ok + r.conflicts), 1)} %)` : '';
  const mbps = fmtMBps(megabytesPerSecond(r.requestsPerSecond, r.valueBytes));
  return `  ${prefix} ${kindLabel[r.kind]} c=${r.concurrency}: ${r.requestsPerSecond.toFixed(0)} req/s (${mbps} MB/s), p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${conflicts}${errs}`;
}

export interface ComparisonOptions {
  /** The fdatasync probe of this run: printed under the table, with each write c=1 p50 against it. */
  readonly fsync?: FsyncProbeResult;
}

/**
 * The graftd (and etcd) table: per case (and value size, when several were run) median req/s,
 * (with rounds) min–max, MB/s, p50, p99, errors, (with a cas case) the refused share; with etcd
 * the ratios of the medians and, with rounds, the min–max of the per-round req/s ratios (rounds
 * are interleaved, so a round's ratio is paired). With the fdatasync probe, a line per value size
 * comparing the single-client write p50 with it (issue 15's goal).
 */
export function printComparison(
  graftd: readonly CaseResult[][],
  etcd: readonly CaseResult[][] | undefined,
  opts: ComparisonOptions = {},
): void {
  const rounds = graftd[0]?.length ?? 1;
  const withCas = graftd.some((g) => g[0]?.kind === 'cas');
  const sizes = new Set(graftd.map((g) => g[0]?.valueBytes));
  const withSize = sizes.size > 1;
  const cols = (name: string): string[] => [
    `${name} req/s`,
    ...(rounds > 1 ? ['min–max'] : []),
    'MB/s',
    'p50 ms',
    'p99 ms',
    'errors',
    ...(withCas ? ['refused'] : []),
  ];
  const head = ['case', ...(withSize ? ['value B'] : []), 'conc', ...cols('graftd')];
  if (etcd !== undefined) head.push(...cols('etcd'), 'req/s ratio', ...(rounds > 1 ? ['ratio min–max'] : []), 'p99 ratio');
  const cells = (s: CaseSummary): string[] => [
    fmt(s.rps, 0),
    ...(rounds > 1 ? [`${fmt(s.rpsMin, 0)}–${fmt(s.rpsMax, 0)}`] : []),
    fmtMBps(s.mbps),
    fmt(s.p50Ms, 2),
    fmt(s.p99Ms, 2),
    String(s.errors),
    ...(withCas ? [s.kind === 'cas' ? `${fmt(100 * s.conflictShare, 1)} %` : ''] : []),
  ];
  const rows: string[][] = [head];
  const goalLines: string[] = [];
  graftd.forEach((gRounds, i) => {
    const g = summarize(gRounds);
    const row = [kindLabel[g.kind], ...(withSize ? [String(g.valueBytes)] : []), String(g.concurrency), ...cells(g)];
    const eRounds = etcd?.[i];
    const e = eRounds === undefined ? undefined : summarize(eRounds);
    if (opts.fsync !== undefined && g.kind === 'write' && g.concurrency === 1) {
      const fsyncP50 = opts.fsync.preallocated.p50Ms;
      const etcdNote = e === undefined ? '' : `etcd p50 ${fmt(e.p50Ms, 2)} ms = ${fmt(e.p50Ms / fsyncP50, 1)} ×`;
      goalLines.push(fsyncGoalLine(g.p50Ms, fsyncP50, withSize ? `${g.valueBytes} B` : '', etcdNote));
    }
    if (eRounds !== undefined && e !== undefined) {
      const perRound = gRounds.map((r, k) => r.requestsPerSecond / (eRounds[k]?.requestsPerSecond ?? Number.NaN));
      row.push(...cells(e), fmt(g.rps / e.rps, 2));
      if (rounds > 1) row.push(`${fmt(Math.min(...perRound), 2)}–${fmt(Math.max(...perRound), 2)}`);
      row.push(fmt(g.p99Ms / e.p99Ms, 2));
    }
    rows.push(row);
  });
  printRows(rows);
  console.log(
    `MB/s = successful requests/s × value bytes / 10^6${withSize ? ' (value B: bytes per value; keys re-written at each size before its cases)' : ''}.`,
  );
  if (etcd !== undefined)
    console.log('ratios are graftd / etcd: req/s above 1 means graftd is faster; p99 below 1 means graftd is faster.');
  if (rounds > 1)
    console.log(`${rounds} rounds per case, graftd and etcd interleaved (alternating which goes first): medians, min–max of req/s.`);
  if (withCas)
    console.log(
      'cas req/s counts successful CAS only; refused = share of CAS answered "condition failed" (graftd 412, etcd failure branch), in p50/p99.',
    );
  if (opts.fsync !== undefined) {
    console.log(fsyncProbeLine(opts.fsync));
    for (const line of goalLines) console.log(line);
  }
}

/** A Markdown table, first row the head, first column left-aligned, the rest right-aligned. */
export function printRows(rows: readonly string[][]): void {
  const head = rows[0]!;
  const widths = head.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    `| ${r.map((cell, c) => (c < 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w, c) => (c < 1 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows.slice(1)) console.log(line(r));
}
