/**
 * The soak's per-minute rows, its goals and its last line.
 *
 * Why the goals are computed from whole minutes and medians: the run shares a 2-core machine
 * with other work, so single samples jump; a per-minute maximum (RSS) or a median over several
 * minutes (p99) says whether something grows, not whether one moment was slow.
 */
import type { NodeSample } from './soak-probe.ts';

const MiB = 1024 * 1024;

/** One node over one minute: maxima of its samples (the WAL and snapshot counts also at minute end). */
export interface NodeMinute {
  readonly rssMax: number;
  readonly heapMax: number;
  readonly fdsMax: number;
  readonly diskMax: number;
  readonly walMax: number;
  readonly snapshotsMax: number;
  /** Samples taken (0: the node never answered /metrics this minute). */
  readonly samples: number;
}

export interface MinuteRow {
  readonly minute: number;
  readonly ops: number;
  readonly errors: number;
  readonly retried: number;
  readonly skipped: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly leader: string;
  readonly load1: number;
  readonly nodes: readonly NodeMinute[];
}

/** Fold the samples of one node over a minute. */
export function nodeMinute(samples: readonly NodeSample[]): NodeMinute {
  const max = (f: (s: NodeSample) => number): number => (samples.length === 0 ? Number.NaN : Math.max(...samples.map(f)));
  return {
    rssMax: max((s) => s.rssBytes),
    heapMax: max((s) => s.heapUsedBytes),
    fdsMax: max((s) => s.openFds),
    diskMax: max((s) => s.diskBytes),
    walMax: max((s) => s.walSegments.length),
    snapshotsMax: max((s) => s.snapshots),
    samples: samples.length,
  };
}

const f1 = (n: number): string => (Number.isNaN(n) ? '-' : n.toFixed(1));
const f0 = (n: number): string => (Number.isNaN(n) ? '-' : n.toFixed(0));

/** The Markdown table head for `nodes` nodes (two lines). */
export function tableHead(nodes: number): string[] {
  const head = ['min', 'ops', 'err', 'retried', 'p50 ms', 'p99 ms', 'leader', 'load'];
  for (let i = 0; i < nodes; i++) head.push(`n${i} rss`, `heap`, `fd`, `disk`, `wal`);
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---:').join('|')}|`];
}

/** One table line: rss/heap/disk in MiB (per-minute maxima), fd and wal maxima of the minute. */
export function tableRow(r: MinuteRow): string {
  const cells = [
    String(r.minute),
    String(r.ops),
    String(r.errors),
    String(r.retried),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.leader,
    f1(r.load1),
  ];
  for (const n of r.nodes) cells.push(f0(n.rssMax / MiB), f0(n.heapMax / MiB), f0(n.fdsMax), f1(n.diskMax / MiB), f0(n.walMax));
  return `| ${cells.join(' | ')} |`;
}

export interface SoakGoals {
  /** RSS drift must stay below this, percent. */
  readonly maxRssDriftPercent: number;
  /** WAL segment files per node must never exceed this. */
  readonly maxWalSegments: number;
  /** Snapshot files per node must never exceed this. */
  readonly maxSnapshots: number;
  /** The last window's median p99 may be at most this factor of the first window's … */
  readonly p99Factor: number;
  /** … plus this many ms (absolute slack for tiny p99s). */
  readonly p99SlackMs: number;
}

export const DEFAULT_GOALS: SoakGoals = { maxRssDriftPercent: 15, maxWalSegments: 3, maxSnapshots: 3, p99Factor: 1.5, p99SlackMs: 1 };

export interface SoakSummary {
  readonly minutes: number;
  /** The minute whose maximum RSS is the baseline (5, or 1 for runs shorter than 6 minutes). */
  readonly baselineMinute: number;
  readonly rssDriftPercent: number;
  readonly diskMaxMiB: number;
  /** Minutes in each p99 window (first and last). */
  readonly p99Window: number;
  readonly p99FirstMs: number;
  readonly p99LastMs: number;
  readonly errors: number;
  /** Why a goal was missed, one entry per goal; empty when all were met. */
  readonly missed: string[];
}

const median = (xs: readonly number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]!;
};

const maxOver = (nodes: readonly NodeMinute[], f: (n: NodeMinute) => number): number =>
  Math.max(...nodes.map(f).filter((x) => !Number.isNaN(x)));

/**
 * The summary of a run. `errors` counts every failure (requests after retries, transfers,
 * probes, nodes that exited). RSS drift: the largest per-minute maximum RSS of any node in the
 * last minute against the same at the end of minute 5 (minute 1 for runs under 6 minutes).
 */
export function summarize(rows: readonly MinuteRow[], errors: number, goals: SoakGoals = DEFAULT_GOALS): SoakSummary {
  const n = rows.length;
  const missed: string[] = [];
  if (n === 0)
    return {
      minutes: 0,
      baselineMinute: 0,
      rssDriftPercent: 0,
      diskMaxMiB: 0,
      p99Window: 0,
      p99FirstMs: 0,
      p99LastMs: 0,
      errors,
      missed: ['no minute completed'],
    };
  const baselineMinute = n >= 6 ? 5 : 1;
  const baseRss = maxOver(rows[baselineMinute - 1]!.nodes, (x) => x.rssMax);
  const endRss = maxOver(rows[n - 1]!.nodes, (x) => x.rssMax);
  const rssDriftPercent = (endRss / baseRss - 1) * 100;
  const diskMaxMiB = Math.max(...rows.map((r) => maxOver(r.nodes, (x) => x.diskMax))) / MiB;
  const window = n >= 6 ? 5 : Math.max(1, Math.floor(n / 2));
  const p99FirstMs = median(rows.slice(0, window).map((r) => r.p99Ms));
  const p99LastMs = median(rows.slice(n - window).map((r) => r.p99Ms));
  if (errors > 0) missed.push(`${errors} error(s)`);
  if (!(rssDriftPercent < goals.maxRssDriftPercent))
    missed.push(`rss drift ${f1(rssDriftPercent)} % (minute ${baselineMinute} → ${n}) is not below ${goals.maxRssDriftPercent} %`);
  const walMax = Math.max(...rows.map((r) => maxOver(r.nodes, (x) => x.walMax)));
  if (!(walMax <= goals.maxWalSegments))
    missed.push(`a node held ${walMax} WAL segments (bound ${goals.maxWalSegments}): segments are not reclaimed`);
  const snapMax = Math.max(...rows.map((r) => maxOver(r.nodes, (x) => x.snapshotsMax)));
  if (!(snapMax <= goals.maxSnapshots)) missed.push(`a node held ${snapMax} snapshot files (bound ${goals.maxSnapshots})`);
  if (!(p99LastMs <= p99FirstMs * goals.p99Factor + goals.p99SlackMs))
    missed.push(
      `p99 not flat: median of the last ${window} minute(s) ${f1(p99LastMs)} ms > ${goals.p99Factor} × first ${f1(p99FirstMs)} ms + ${goals.p99SlackMs} ms`,
    );
  return { minutes: n, baselineMinute, rssDriftPercent, diskMaxMiB, p99Window: window, p99FirstMs, p99LastMs, errors, missed };
}

/** The last line, exactly: `soak: N minutes, rss drift X %, disk max Y MiB, p99 first/last A/B ms, E errors`. */
export function finalLine(s: SoakSummary): string {
  return `soak: ${s.minutes} minutes, rss drift ${f1(s.rssDriftPercent)} %, disk max ${f1(s.diskMaxMiB)} MiB, p99 first/last ${f1(s.p99FirstMs)}/${f1(s.p99LastMs)} ms, ${s.errors} errors`;
}

/** The pattern a well-formed last line matches (for the CI test and log readers). */
export const FINAL_LINE_RE =
  /^soak: (\d+) minutes, rss drift (-?\d+\.\d|-) %, disk max (\d+\.\d) MiB, p99 first\/last (\d+\.\d|-)\/(\d+\.\d|-) ms, (\d+) errors$/;
