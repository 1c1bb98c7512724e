/**
 * The per-member view behind `graftctl status` and `graftctl members`.
 *
 * Why its own module: a useful status table needs every member's own /status (its role,
 * term and indexes as *it* sees them), the leader's membership list and replication
 * progress, and an honest row for a member that does not answer.
 */
import { leaderEndpointOf } from '../client/client.ts';
import type { GraftdClient } from '../client/index.ts';
import { reachableEndpoint } from '../client/endpoints.ts';
import type { MemberView, NodeStatus } from '../node/api.ts';

/** One member row. Fields from its own /status are null when it did not answer. */
export interface MemberRow {
  readonly id: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  readonly voter: boolean;
  readonly role: string | null;
  readonly term: number | null;
  readonly leaderId: string | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  readonly lastIndex: number | null;
  readonly snapshotIndex: number | null;
  /** Entries behind the leader (its replication progress; else leader commit − member applied). */
  readonly lag: number | null;
  /** Why the row is incomplete; '' when the member answered. */
  readonly error: string;
}

export interface ClusterView {
  /** The leader's id ('' when none is known). */
  readonly leaderId: string;
  /** The membership the view is based on (the leader's when it answered). */
  readonly members: readonly MemberView[];
  /** The status the membership came from, and the endpoint that gave it. */
  readonly source: NodeStatus;
  readonly sourceEndpoint: string;
}

/** Find the membership, preferably from the leader. */
export async function clusterView(client: GraftdClient): Promise<ClusterView> {
  const first = await client.statusWithEndpoint();
  const leaderEndpoint = leaderEndpointOf(first.status, first.endpoint);
  if (first.status.role !== 'leader' && leaderEndpoint !== '' && leaderEndpoint !== first.endpoint) {
    try {
      const leader = await client.statusWithEndpoint(leaderEndpoint);
      return { leaderId: leader.status.leaderId, members: leader.status.members, source: leader.status, sourceEndpoint: leader.endpoint };
    } catch {
      // keep the follower's view
    }
  }
  return { leaderId: first.status.leaderId, members: first.status.members, source: first.status, sourceEndpoint: first.endpoint };
}

function row(member: MemberView, status: NodeStatus | null, leader: NodeStatus | null, error: string): MemberRow {
  let lag: number | null = null;
  if (status !== null && leader !== null) {
    if (status.id === leader.id) lag = 0;
    else lag = leader.progress[member.id]?.lag ?? Math.max(0, leader.commitIndex - status.appliedIndex);
  }
  return {
    id: member.id,
    raftAddr: member.raftAddr,
    httpAddr: member.httpAddr,
    voter: member.voter,
    role: status?.role ?? null,
    term: status?.term ?? null,
    leaderId: status?.leaderId ?? null,
    commitIndex: status?.commitIndex ?? null,
    appliedIndex: status?.appliedIndex ?? null,
    lastIndex: status?.lastIndex ?? null,
    snapshotIndex: status?.snapshotIndex ?? null,
    lag,
    error,
  };
}

/** Ask every member for its own /status, in parallel (one attempt each). */
export async function memberRows(client: GraftdClient, view: ClusterView): Promise<MemberRow[]> {
  const answers = await Promise.all(
    view.members.map(async (member): Promise<{ status: NodeStatus | null; error: string }> => {
      if (member.id === view.source.id) return { status: view.source, error: '' };
      const endpoint = reachableEndpoint(member.httpAddr, member.raftAddr, view.sourceEndpoint);
      if (endpoint === '') return { status: null, error: 'no HTTP address known (joined without httpAddr)' };
      try {
        return { status: await client.status(endpoint), error: '' };
      } catch (err) {
        return { status: null, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  const leader = answers.find((answer) => answer.status?.role === 'leader')?.status ?? null;
  return view.members.map((member, i) => row(member, answers[i]?.status ?? null, leader, answers[i]?.error ?? ''));
}
