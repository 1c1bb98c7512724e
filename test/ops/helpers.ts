/**
 * Helpers for the operations tests: a thin layer over the shared integration Cluster
 * (test/integration/cluster.ts) that starts a joined cluster and runs graftctl against it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MemberView, NodeStatus } from '../../src/node/api.ts';
import { graftctl, type RunResult } from '../client/helpers.ts';
import type { Cluster } from '../integration/cluster.ts';

/** Poll `probe` until it returns a value other than undefined (throws with `what` after timeoutMs). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === '' ? '' : ` (last error: ${lastError})`}`);
}

/** `host:port,...` of the given nodes' HTTP APIs. */
export function endpointsOf(cluster: Cluster, ids: readonly string[]): string {
  return ids.map((id) => cluster.info(id).httpAddr).join(',');
}

/** GET /status of `id` as a NodeStatus (undefined when unreachable). */
export async function statusOf(cluster: Cluster, id: string): Promise<NodeStatus | undefined> {
  return (await cluster.status(id)) as NodeStatus | undefined;
}

/** The members as `id` sees them. */
export async function membersOf(cluster: Cluster, id: string): Promise<readonly MemberView[]> {
  const status = await statusOf(cluster, id);
  if (status === undefined) throw new Error(`${id} did not answer /status`);
  return status.members;
}

/** Wait until `id`'s member list satisfies `pred`. */
export async function waitMembers(
  cluster: Cluster,
  id: string,
  what: string,
  pred: (members: readonly MemberView[]) => boolean,
  timeoutMs = 20_000,
): Promise<readonly MemberView[]> {
  return waitFor(
    what,
    async () => {
      const members = await membersOf(cluster, id);
      return pred(members) ? members : undefined;
    },
    timeoutMs,
  );
}

/** True when `members` has exactly these voters (any order). */
export function hasVoters(members: readonly MemberView[], ids: readonly string[]): boolean {
  const voters = members
    .filter((m) => m.voter)
    .map((m) => m.id)
    .sort();
  return JSON.stringify(voters) === JSON.stringify([...ids].sort());
}

/**
 * Start `ids[0]` (bootstrap) and join the rest through it, one at a time, each promoted to
 * voter before the next joins. Returns the leader's id.
 */
export async function startJoinedCluster(cluster: Cluster, ids: readonly string[]): Promise<string> {
  const [first, ...rest] = ids;
  if (first === undefined) throw new Error('no ids');
  await cluster.startNode(first);
  await cluster.waitForLeader({ among: [first] });
  const joined = [first];
  for (const id of rest) {
    await cluster.startNode(id, { join: first });
    joined.push(id);
    await waitMembers(cluster, first, `${id} promoted to voter`, (m) => hasVoters(m, joined));
  }
  return cluster.waitForLeader({ among: [...ids] });
}

/** graftctl (in-process) against the given nodes. */
export function ctl(cluster: Cluster, ids: readonly string[], args: readonly string[]): Promise<RunResult> {
  return graftctl(['--endpoints', endpointsOf(cluster, ids), ...args]);
}

/** Assert-style helper: the command succeeded; returns its stdout. */
export async function ctlOk(cluster: Cluster, ids: readonly string[], args: readonly string[]): Promise<string> {
  const r = await ctl(cluster, ids, args);
  if (r.code !== 0) throw new Error(`graftctl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}
