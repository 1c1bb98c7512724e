/**
 * Majority arithmetic over the voters (learners never count).
 *
 * Why separate: the commit rule and the election rule are the two places where a wrong quorum
 * loses data; keeping them tiny and pure makes them easy to test and to reason about.
 */
import type { NodeId } from './types.ts';

/** Votes needed for a majority of `voters` voters. */
export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The largest index acknowledged by a majority of `voters`, given each voter's acknowledged index
 * (`acked(id)`; 0 when unknown). Returns 0 for an empty voter set.
 */
export function committedIndex(voters: readonly NodeId[], acked: (id: NodeId) => number, scratch: number[]): number {
  const n = voters.length;
  if (n === 0) return 0;
  scratch.length = n;
  for (let i = 0; i < n; i++) scratch[i] = acked(voters[i] as NodeId);
  // Insertion sort, descending: n is tiny (3, 5, 7) and this avoids allocating a comparator closure.
  for (let i = 1; i < n; i++) {
    const v = scratch[i] as number;
    let j = i - 1;
    while (j >= 0 && (scratch[j] as number) < v) {
      scratch[j + 1] = scratch[j] as number;
      j--;
    }
    scratch[j + 1] = v;
  }
  return scratch[quorumSize(n) - 1] as number;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Outcome of an election among `voters` given the votes recorded so far (true = granted). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const q = quorumSize(voters.length);
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  if (granted >= q) return 'won';
  if (rejected > voters.length - q) return 'lost';
  return 'pending';
}

/** True when a majority of `voters` satisfy `ok`. */
export function hasQuorum(voters: readonly NodeId[], ok: (id: NodeId) => boolean): boolean {
  let n = 0;
  for (const id of voters) if (ok(id)) n++;
  return n >= quorumSize(voters.length);
}
