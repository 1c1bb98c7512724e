/**
 * graftd's view of the raft membership: member addresses kept in ConfState.context.
 *
 * Why in the log: a node that joins, restarts or installs a snapshot learns every member's
 * raft and HTTP address from the same replicated configuration that decides who votes, so
 * the transport's peer list and the HTTP layer's leader address can never disagree with it.
 */
import type { ConfState, NodeId } from '../raft/types.ts';
import type { MemberView } from './api.ts';

/** What graftd stores per member in ConfState.context (JSON). `voter` is the requested role: a learner with voter=true is promoted once caught up. */
export interface MemberContext {
  readonly raftAddr: string;
  readonly httpAddr: string;
  readonly voter: boolean;
}

/** Encode a member's context string. */
export function encodeMemberContext(ctx: MemberContext): string {
  return JSON.stringify({ raftAddr: ctx.raftAddr, httpAddr: ctx.httpAddr, voter: ctx.voter });
}

/** Decode a context string; tolerant of foreign/empty contexts (unknown addresses become ''). */
export function decodeMemberContext(text: string | undefined): MemberContext {
  if (text === undefined || text === '') return { raftAddr: '', httpAddr: '', voter: true };
  try {
    const o = JSON.parse(text) as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object') return { raftAddr: '', httpAddr: '', voter: true };
    return {
      raftAddr: typeof o.raftAddr === 'string' ? o.raftAddr : '',
      httpAddr: typeof o.httpAddr === 'string' ? o.httpAddr : '',
      voter: o.voter !== false,
    };
  } catch {
    return { raftAddr: '', httpAddr: '', voter: true };
  }
}

/** Every member (voters first, then learners) with its addresses. */
export function memberViews(cs: ConfState): MemberView[] {
  const out: MemberView[] = [];
  for (const id of cs.voters) {
    const c = decodeMemberContext(cs.context[id]);
    out.push({ id, raftAddr: c.raftAddr, httpAddr: c.httpAddr, voter: true });
  }
  for (const id of cs.learners) {
    const c = decodeMemberContext(cs.context[id]);
    out.push({ id, raftAddr: c.raftAddr, httpAddr: c.httpAddr, voter: false });
  }
  return out;
}

/** True when `id` is a voter or learner of `cs`. */
export function isMember(cs: ConfState, id: NodeId): boolean {
  return cs.voters.includes(id) || cs.learners.includes(id);
}

/**
 * The original's duplicate rules for a join of (id, raftAddr): 'noop' when a member has both the
 * same id and the same address; otherwise the ids of members to remove first (same id or same
 * address), then add. A `fresh` joiner (empty data directory) is never a no-op: the member it
 * replaces lost its log and the promises its votes made, so it must leave the quorum first.
 */
export function planJoin(
  cs: ConfState,
  id: NodeId,
  raftAddr: string,
  fresh = false,
): { readonly noop: boolean; readonly remove: readonly NodeId[] } {
  const remove: NodeId[] = [];
  for (const m of memberViews(cs)) {
    if (m.id === id && m.raftAddr === raftAddr && !fresh) return { noop: true, remove: [] };
    if (m.id === id || m.raftAddr === raftAddr) remove.push(m.id);
  }
  return { noop: false, remove };
}
