/**
 * What the soak watches on each node: resident memory, V8 heap and open file descriptors (from
 * the node's own /metrics: prom-client reads /proc/self/status and /proc/self/fd), and on disk
 * the data dir's size, WAL segment files and snapshot files.
 *
 * Why from /metrics rather than /proc/<pid>: the heap is only visible from inside the process,
 * and one scrape gives all three consistently; the bench's process helper does not hand out pids.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface NodeSample {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly openFds: number;
  /** Bytes allocated on disk under the data dir (st_blocks × 512, like `du`). */
  readonly diskBytes: number;
  /** `*.wal` files in DATA_DIR/wal. */
  readonly walSegments: readonly string[];
  /** Files in DATA_DIR/snapshots. */
  readonly snapshots: number;
}

/** The value of an unlabelled-except-defaults gauge `name` in a Prometheus text exposition, or NaN. */
export function metricValue(text: string, name: string): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) return value;
  }
  return Number.NaN;
}

/** Bytes allocated under `dir` (recursive; files that vanish while walking are skipped). */
export function diskBytes(dir: string): number {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += diskBytes(p);
    else {
      try {
        total += statSync(p).blocks * 512;
      } catch {
        // removed meanwhile (compaction, snapshot retention)
      }
    }
  }
  return total;
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * One sample of node `endpoint` whose data dir is `dataDir`. Throws when /metrics does not answer
 * 200 within `timeoutMs` or lacks the process metrics.
 */
export async function sampleNode(endpoint: string, dataDir: string, timeoutMs: number): Promise<NodeSample> {
  const res = await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${endpoint}/metrics answered ${res.status}`);
  const rssBytes = metricValue(text, 'process_resident_memory_bytes');
  const heapUsedBytes = metricValue(text, 'nodejs_heap_size_used_bytes');
  const openFds = metricValue(text, 'process_open_fds');
  if ([rssBytes, heapUsedBytes, openFds].some(Number.isNaN)) throw new Error(`${endpoint}/metrics lacks the process metrics`);
  return {
    rssBytes,
    heapUsedBytes,
    openFds,
    diskBytes: diskBytes(dataDir),
    walSegments: listOrEmpty(join(dataDir, 'wal')).filter((n) => n.endsWith('.wal')),
    snapshots: listOrEmpty(join(dataDir, 'snapshots')).length,
  };
}
