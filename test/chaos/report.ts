/**
 * The text report of chaos runs and the one summary line scripts and CI grep for.
 *
 * Why a fixed last line: `chaos: K runs, V violations, L lost acknowledged writes, U unknown`
 * is the contract with whoever runs this (CI logs, the closing note of the issue); everything
 * above it is for humans.
 */
import { describeOps } from '../../src/check/format.ts';
import type { RunReport } from './run.ts';
import { shortPath } from './run.ts';

/** `k1 k2 k3 k7 x` → `k1–k3 k7 x` (keys named k<number> in runs are grouped into ranges). */
export function compactKeys(keys: readonly string[]): string {
  const nums = keys.filter((k) => /^k\d+$/.test(k)).map((k) => Number(k.slice(1)));
  nums.sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    parts.push(j === i ? `k${nums[i]}` : `k${nums[i]}–k${nums[j]}`);
    i = j + 1;
  }
  parts.push(...keys.filter((k) => !/^k\d+$/.test(k)));
  return parts.length === 0 ? '—' : parts.join(' ');
}

/** Human-readable lines for one run. */
export function formatRun(r: RunReport, index: number, total: number): string[] {
  const lines: string[] = [];
  const pass = r.keys.filter((k) => k.verdict === 'pass').length;
  const fail = r.keys.filter((k) => k.verdict === 'fail').length;
  const unknown = r.keys.filter((k) => k.verdict === 'unknown').length;
  const byName = new Map<string, number>();
  for (const f of r.faults) byName.set(f.name, (byName.get(f.name) ?? 0) + 1);
  lines.push(`run ${index}/${total}: seed ${r.seed}, ${r.nodes} nodes — ${r.violations === 0 ? 'OK' : 'VIOLATIONS'}`);
  lines.push(`  replay: ${r.replay}`);
  if (r.networkSkipped !== undefined) lines.push(`  ${r.networkSkipped}`);
  const drops = r.droppedPackets === undefined ? '' : `; packets dropped by network faults: ${r.droppedPackets}`;
  lines.push(
    `  faults: ${r.faults.length}${byName.size === 0 ? '' : ` (${[...byName].map(([n, c]) => `${n} ×${c}`).join(', ')})`}${drops}`,
  );
  lines.push(`  operations: ok ${r.counts.ok}, fail ${r.counts.fail}, info ${r.counts.info}`);
  lines.push(`  keys: ${r.keys.length} — ${pass} pass, ${fail} fail, ${unknown} unknown; lost acknowledged writes: ${r.lostWrites}`);
  for (const verdict of ['pass', 'fail', 'unknown'] as const) {
    const names = r.keys.filter((k) => k.verdict === verdict).map((k) => k.key);
    if (names.length > 0) lines.push(`    ${verdict}: ${compactKeys(names)}`);
  }
  for (const k of r.keys) {
    if (k.verdict === 'pass') continue;
    lines.push(`  ${k.verdict.toUpperCase()} ${k.key} (${k.ops} ops): ${k.message.split('\n')[0]}`);
    if (k.verdict === 'fail')
      lines.push(
        '    minimal failing sub-history:',
        ...describeOps(k.failing)
          .split('\n')
          .map((l) => `  ${l}`),
      );
  }
  for (const d of r.divergences) lines.push(`  DIVERGENCE ${d}`);
  for (const a of r.addons ?? []) {
    lines.push(
      `  ${a.name} check: ${a.violations.length === 0 ? 'OK' : `${a.violations.length} VIOLATION(S)`}`,
      ...a.lines.map((l) => `    ${l}`),
    );
    for (const v of a.violations.slice(0, 20)) lines.push(`    VIOLATION ${v}`);
    if (a.violations.length > 20) lines.push(`    … ${a.violations.length - 20} more in report.json`);
  }
  if (r.error !== undefined) lines.push(`  ERROR ${r.error}`);
  if (r.timelineFile !== undefined) lines.push(`  timeline: ${shortPath(r.timelineFile)}`);
  lines.push(`  artifacts: ${shortPath(r.runDir)} (node logs, history.jsonl, run.log, report.json)`);
  return lines;
}

/** Totals over runs. */
export interface Totals {
  readonly runs: number;
  readonly violations: number;
  readonly lostWrites: number;
  readonly unknown: number;
}

export function totals(reports: readonly RunReport[]): Totals {
  return {
    runs: reports.length,
    violations: reports.reduce((n, r) => n + r.violations, 0),
    lostWrites: reports.reduce((n, r) => n + r.lostWrites, 0),
    unknown: reports.reduce((n, r) => n + r.unknown, 0),
  };
}

/** The last line of every chaos command. */
export function summaryLine(t: Totals): string {
  return `chaos: ${t.runs} runs, ${t.violations} violations, ${t.lostWrites} lost acknowledged writes, ${t.unknown} unknown`;
}
