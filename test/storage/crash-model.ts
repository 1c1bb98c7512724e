/**
 * What the crash writer writes, shared with the parent that checks it: entry i written by the
 * child with `salt` has deterministic data, so the parent can verify every byte without a copy.
 */
import type { Entry } from '../../src/raft/types.ts';
import { dataFor } from './helpers.ts';

export function crashEntry(index: number, term: number, salt: number): Entry {
  return { index, term, type: 'normal', data: dataFor(index, salt, (index * 7 + salt) % 60) };
}
