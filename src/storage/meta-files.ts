/**
 * The two small state files next to the WAL segments: `hardstate` and `logmeta`.
 *
 * Why separate from the WAL: term and vote change rarely (elections) and must survive any
 * compaction, so they live in their own atomically replaced file; the commit index changes
 * constantly and rides in the WAL batches instead. `logmeta` records the latest snapshot (so
 * initialState() can return its membership), the compaction point (index and term of the entry
 * just before the first retained one) and the log generation (bumped by applySnapshot, so that
 * segments written before a snapshot replaced the log are recognised and ignored).
 */
import path from 'node:path';
import { CorruptionError, assert } from '../errors.ts';
import type { ConfState, HardState, SnapshotMeta } from '../raft/types.ts';
import { readAtomicJson, writeAtomicJson } from './atomic-file.ts';
import type { FsLike } from './fs-like.ts';

export const HARD_STATE_FILE = 'hardstate';
export const LOG_META_FILE = 'logmeta';
const HARD_STATE_MAGIC = 0x31534847; // 'GHS1'
const LOG_META_MAGIC = 0x314d4c47; // 'GLM1'

/** The membership of a node that belongs to no cluster yet. */
export const EMPTY_CONF: ConfState = Object.freeze({ voters: Object.freeze([]), learners: Object.freeze([]), context: Object.freeze({}) });

export const INITIAL_HARD_STATE: HardState = Object.freeze({ term: 0, vote: '', commit: 0 });

export interface LogMeta {
  /** Incremented by applySnapshot; segments with a lower generation predate it. */
  readonly generation: number;
  /** Entries ≤ compactIndex are discarded; compactTerm is the term of compactIndex. */
  readonly compactIndex: number;
  readonly compactTerm: number;
  readonly snapshot: SnapshotMeta;
}

export const INITIAL_LOG_META: LogMeta = Object.freeze({
  generation: 0,
  compactIndex: 0,
  compactTerm: 0,
  snapshot: Object.freeze({ index: 0, term: 0, confState: EMPTY_CONF }),
});

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function isConfState(v: unknown): v is ConfState {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  if (!isStringArray(c.voters) || !isStringArray(c.learners)) return false;
  const ctx = c.context;
  return typeof ctx === 'object' && ctx !== null && !Array.isArray(ctx) && Object.values(ctx).every((s) => typeof s === 'string');
}

function isSnapshotMeta(v: unknown): v is SnapshotMeta {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return isCount(m.index) && isCount(m.term) && isConfState(m.confState);
}

/** Read `hardstate`; the initial hard state when the file does not exist. */
export function readHardState(fsl: FsLike, dir: string): HardState {
  const v = readAtomicJson(fsl, dir, HARD_STATE_FILE, HARD_STATE_MAGIC);
  if (v === null) return INITIAL_HARD_STATE;
  const h = v as Record<string, unknown>;
  if (typeof v !== 'object' || !isCount(h.term) || typeof h.vote !== 'string' || !isCount(h.commit)) {
    throw new CorruptionError(path.join(dir, HARD_STATE_FILE), 0, `expected {term, vote, commit}, found ${JSON.stringify(v)}`);
  }
  return { term: h.term, vote: h.vote, commit: h.commit };
}

/**
 * Replace `hardstate`. Refuses (GRAFTD_INTERNAL, nothing written) a value readHardState would reject
 * on the next start: terms and commit indexes must be safe integers ≥ 0. The core never produces
 * one beyond MAX_TERM (src/raft/admission.ts); this keeps a bug from being persisted as a node that
 * cannot restart (a term of 2^53 once was).
 */
export function writeHardState(fsl: FsLike, dir: string, hs: HardState): void {
  assert(
    isCount(hs.term) && isCount(hs.commit) && typeof hs.vote === 'string',
    `hard state {term: ${hs.term}, commit: ${hs.commit}} is not storable: expected safe integers ≥ 0`,
  );
  writeAtomicJson(fsl, dir, HARD_STATE_FILE, HARD_STATE_MAGIC, { term: hs.term, vote: hs.vote, commit: hs.commit });
}

/** Read `logmeta`; the initial metadata when the file does not exist. */
export function readLogMeta(fsl: FsLike, dir: string): LogMeta {
  const v = readAtomicJson(fsl, dir, LOG_META_FILE, LOG_META_MAGIC);
  if (v === null) return INITIAL_LOG_META;
  const m = v as Record<string, unknown>;
  if (
    typeof v !== 'object' ||
    !isCount(m.generation) ||
    !isCount(m.compactIndex) ||
    !isCount(m.compactTerm) ||
    !isSnapshotMeta(m.snapshot)
  ) {
    throw new CorruptionError(
      path.join(dir, LOG_META_FILE),
      0,
      `expected {generation, compactIndex, compactTerm, snapshot}, found ${JSON.stringify(v)}`,
    );
  }
  return { generation: m.generation, compactIndex: m.compactIndex, compactTerm: m.compactTerm, snapshot: m.snapshot };
}

export function writeLogMeta(fsl: FsLike, dir: string, meta: LogMeta): void {
  writeAtomicJson(fsl, dir, LOG_META_FILE, LOG_META_MAGIC, meta);
}
