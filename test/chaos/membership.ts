/**
 * Membership changes under faults: add a member (a new graftd process joins as a learner and is
 * promoted once caught up), remove one (the leader too), or move leadership — while a partition,
 * a kill or a long pause is in force.
 *
 * Why through the real routes: the point is to exercise what an operator does (`graftd -join`,
 * `POST /remove`, `POST /transfer-leader`, i.e. graftctl's paths), sent to a random member that
 * forwards to the leader, so forwarding under a partition is exercised too. A request whose
 * outcome is unknown (timeout, dropped connection) is fine: the harness keeps its *intended*
 * membership and, once the fault is healed, settles it (repeats a removal — a second removal of
 * the same id is a 404, a join of a member is a no-op — and restarts a joiner that died), so the
 * final checks know exactly which members must hold the data.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeClients } from './http-ops.ts';
import { ChaosCluster } from './nodes.ts';
import type { Rng } from './prng.ts';

/** What a membership step can do. */
export type MembershipAction = 'add' | 'remove' | 'transfer';

/** What membership steps need. */
export interface MembershipContext {
  readonly cluster: ChaosCluster;
  readonly clients: NodeClients;
  readonly rng: Rng;
  /** The cluster size the run started with: the member count moves between base−1 (base ≥ 5), base and base+1. */
  readonly baseSize: number;
  readonly log?: (line: string) => void;
}

/** Which action to take given the current intended size (pure given the generator). */
export function chooseAction(size: number, base: number, freeSlots: number, rng: Rng): MembershipAction {
  if (rng.next() < 0.25) return 'transfer';
  const canAdd = freeSlots > 0 && size <= base;
  // Below base only with 5+ nodes: a 3-node cluster shrunk to 2 loses its quorum with any further fault.
  const canRemove = size > base || (base >= 5 && size >= base);
  if (canAdd && canRemove) return rng.next() < 0.5 ? 'add' : 'remove';
  if (canAdd) return 'add';
  if (canRemove) return 'remove';
  return 'transfer';
}

/** One admin request to a random responsive member; a short description of the answer. */
async function ask(ctx: MembershipContext, path: string, body: unknown): Promise<string> {
  const targets = ctx.cluster.reachable();
  if (targets.length === 0) return 'no responsive member to ask';
  const via = ctx.rng.pick(targets);
  const r = await ctx.clients.admin(via, path, body);
  return `via ${via}: ${r.error !== undefined ? `no answer (${r.error})` : `${r.status}${r.code === '' ? '' : ` ${r.code}`}`}`;
}

/** Perform one membership step now; returns its description. */
export async function membershipStep(ctx: MembershipContext, forced?: MembershipAction, victim?: string): Promise<string> {
  const { cluster, rng } = ctx;
  const members = cluster.memberIds();
  const free = cluster.freeSlots();
  const action = forced ?? chooseAction(members.length, ctx.baseSize, free.length, rng);
  switch (action) {
    case 'add': {
      const slot = free[0];
      const through = cluster.responsive()[0] ?? members[0];
      if (slot === undefined || through === undefined) return `add: no free slot or no member to join through (${members.length} members)`;
      cluster.addMember(slot, through, true);
      return `add ${slot} (graftd -join via ${through}; learner, promoted once caught up): ${members.length} → ${members.length + 1} members`;
    }
    case 'remove': {
      const leader = await cluster.leader();
      const id = victim ?? rng.pick(members);
      cluster.forgetMember(id);
      const answer = await ask(ctx, '/remove', { id });
      return `remove ${id}${id === leader ? ' (the leader)' : ''} ${answer}: ${members.length} → ${members.length - 1} members`;
    }
    case 'transfer': {
      const leader = await cluster.leader();
      const voters = [...cluster.intendedMembers()].filter(([id, voter]) => voter && id !== leader).map(([id]) => id);
      const to = voters.length > 0 && rng.next() < 0.7 ? rng.pick(voters) : undefined;
      const answer = await ask(ctx, '/transfer-leader', to === undefined ? {} : { id: to });
      return `transfer leadership from ${leader ?? '?'} to ${to ?? 'the most caught-up voter'} ${answer}`;
    }
  }
}

/**
 * Drive the cluster's membership to the intended one: restart intended members whose process
 * died (a joiner that gave up, a node killed mid-join), repeat removals the leader still lists.
 * Returns '' once the leader's membership matches, else what is still missing after `timeoutMs`.
 */
export async function settleMembership(ctx: MembershipContext, timeoutMs: number): Promise<string> {
  const { cluster } = ctx;
  const deadline = Date.now() + timeoutMs;
  let gap = 'no leader';
  let lastRemove = 0;
  while (Date.now() < deadline) {
    for (const id of cluster.memberIds()) if (!cluster.isAlive(id)) cluster.restart(id);
    // Every process: the leader may be a node the harness already asked to remove.
    const leader = await cluster.leader(cluster.reachable());
    const st = leader === undefined ? undefined : await cluster.status(leader);
    if (st !== undefined) {
      gap = ChaosCluster.membershipGap(st.members, cluster.intendedMembers());
      if (gap === '') return '';
      const extra = st.members.map((m) => m.id).filter((id) => !cluster.isMember(id));
      if (extra.length > 0 && Date.now() - lastRemove > 1000) {
        lastRemove = Date.now();
        for (const id of extra) ctx.log?.(`settle: remove ${id} again ${await ask(ctx, '/remove', { id })}`);
      }
    }
    await sleep(250);
  }
  return gap;
}

/** Kill processes of slots that are no members (removed nodes that never learned it); their ids. */
export async function stopStrays(cluster: ChaosCluster): Promise<string[]> {
  const strays = cluster.running().filter((id) => !cluster.isMember(id));
  for (const id of strays) await cluster.kill(id);
  return strays;
}
