/**
 * The status a node reports (RaftNodeStatus: /status, graftctl endpoint status, the vizor), built
 * from the core's view and the runtime's own state.
 *
 * Why separate: it is a pure function of what it is given — no ordering, no waiting — and the
 * runtime only gathers the inputs. Followers' lag and the learner/removed roles are derived here.
 */
import type { NodeId, RaftStatus } from '../raft/types.ts';
import type { FollowerProgress, MemberView } from './api.ts';
import type { ForeignClusterRecord } from './data-dir.ts';
import type { RaftNodeStatus } from './state-machine.ts';

export interface StatusInputs {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  /** The core's status (role, term, leader, indexes, configuration, progress on a leader). */
  readonly core: RaftStatus;
  /** The members of `core.confState`, decoded. */
  readonly members: MemberView[];
  readonly removed: boolean;
  readonly applied: number;
  /** Index of the newest snapshot the snapshot keeper took or installed. */
  readonly snapshotIndex: number;
  /** Why the node failed ('' while healthy). */
  readonly fault: string;
  /** The disk gate's description ('' while writable). */
  readonly diskFull: string;
  /** The state machine's own fields. */
  readonly state: Readonly<Record<string, number | string>>;
  readonly foreign?: { readonly record: ForeignClusterRecord; readonly error: string };
}

/** Per follower (leader only): replication progress and lag behind the leader's last index. */
function followerProgress(st: RaftStatus, self: NodeId): Record<NodeId, FollowerProgress> {
  const progress: Record<NodeId, FollowerProgress> = {};
  if (st.role !== 'leader') return progress;
  for (const [id, pv] of Object.entries(st.progress)) {
    if (id === self) continue;
    progress[id] = {
      match: pv.match,
      next: pv.next,
      state: pv.state,
      recentActive: pv.recentActive,
      lag: Math.max(0, st.lastIndex - pv.match),
    };
  }
  return progress;
}

export function buildStatus(i: StatusInputs): RaftNodeStatus {
  const st = i.core;
  const cs = st.confState;
  const leaderView = i.members.find((m) => m.id === st.leader);
  const role: RaftNodeStatus['role'] = i.removed ? 'removed' : cs.learners.includes(i.id) ? 'learner' : st.role;
  return {
    id: i.id,
    role,
    term: st.term,
    leaderId: st.leader,
    leaderHttpAddr: leaderView?.httpAddr ?? '',
    raftAddr: i.raftAddr,
    httpAddr: i.httpAddr,
    commitIndex: st.commit,
    appliedIndex: i.applied,
    lastIndex: st.lastIndex,
    snapshotIndex: Math.max(st.snapshotIndex, i.snapshotIndex),
    members: i.members,
    progress: followerProgress(st, i.id),
    fault: i.fault,
    diskFull: i.diskFull,
    clusterId: i.clusterId,
    state: i.state,
    ...(i.foreign === undefined ? {} : { foreignCluster: { ...i.foreign.record, error: i.foreign.error } }),
  };
}
