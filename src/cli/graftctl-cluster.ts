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
  /** The cluster id the node reports (null when it did not answer or reports none). */
  readonly clusterId: string | null;
  /** False for an endpoint given on the command line that is not in the membership (e.g. a node that founded its own cluster). */
  readonly member: boolean;
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

function row(member: MemberView, status: NodeStatus | null, leader: NodeStatus | null, error: string, isMember = true): MemberRow {
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
    clusterId: status?.clusterId ?? null,
    member: isMember,
    error,
  };
}

/**
 * Ask every member for its own /status, in parallel (one attempt each, within `timeoutMs`; 0:
 * the request timeout), plus every endpoint in `given` that is no member's address: a node the
 * user named that the cluster does not list (it may have founded a cluster of its own) gets a
 * row too, so disagreements show.
 */
export async function memberRows(
  client: GraftdClient,
  view: ClusterView,
  given: readonly string[] = [],
  timeoutMs = 0,
): Promise<MemberRow[]> {
  const ask = async (endpoint: string): Promise<{ status: NodeStatus | null; error: string }> => {
    try {
      const answer = await client.probeEndpoint(endpoint, '/status', timeoutMs);
      if (answer.status !== 200) return { status: null, error: `${endpoint}: HTTP ${answer.status}` };
      const status = JSON.parse(answer.text) as NodeStatus;
      if (typeof status?.id !== 'string' || !Array.isArray(status.members))
        return { status: null, error: `${endpoint}: unexpected /status` };
      return { status, error: '' };
    } catch (err) {
      return { status: null, error: err instanceof Error ? err.message : String(err) };
    }
  };
  const memberEndpoints = view.members.map((member) => reachableEndpoint(member.httpAddr, member.raftAddr, view.sourceEndpoint));
  const answers = await Promise.all(
    view.members.map(async (member, i): Promise<{ status: NodeStatus | null; error: string }> => {
      if (member.id === view.source.id) return { status: view.source, error: '' };
      const endpoint = memberEndpoints[i]!;
      if (endpoint === '') return { status: null, error: 'no HTTP address known (joined without httpAddr)' };
      if (client.isSilent(endpoint)) return { status: null, error: client.silentReason(endpoint) };
      return ask(endpoint);
    }),
  );
  const strangers = given.filter((endpoint) => endpoint !== view.sourceEndpoint && !memberEndpoints.includes(endpoint));
  const extra = await Promise.all(strangers.map(async (endpoint) => ({ endpoint, ...(await ask(endpoint)) })));
  const leader = answers.find((answer) => answer.status?.role === 'leader')?.status ?? null;
  const rows = view.members.map((member, i) => row(member, answers[i]?.status ?? null, leader, answers[i]?.error ?? ''));
  for (const { endpoint, status, error } of extra) {
    // An endpoint that answers as a listed member under another address is that member: not a stranger.
    if (status !== null && view.members.some((m) => m.id === status.id)) continue;
    if (status === null) continue; // silent and not a member: nothing to compare (the endpoint list may be stale)
    const self: MemberView = { id: status.id, raftAddr: status.raftAddr, httpAddr: endpoint, voter: false };
    rows.push(row(self, status, leader, error, false));
  }
  return rows;
}
