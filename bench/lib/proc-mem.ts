/**
 * Resident memory of a process from /proc/<pid>/status (VmRSS now, VmHWM the peak).
 *
 * Why /proc and not the node's /metrics: the same reading works for graftd and etcd, and for a
 * node that is too busy to answer HTTP.
 */
import { readFileSync } from 'node:fs';

export interface Memory {
  /** Resident set now, bytes. */
  readonly rss: number;
  /** Peak resident set since the process started, bytes. */
  readonly hwm: number;
}

/** VmRSS and VmHWM of `pid`, undefined when it is gone (or not Linux). */
export function memoryOf(pid: number | undefined): Memory | undefined {
  if (pid === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m === null ? Number.NaN : Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export const mib = (bytes: number): string => (Number.isNaN(bytes) ? '-' : (bytes / 2 ** 20).toFixed(0));
