/**
 * Membership changes on the leader: join (with graftd's duplicate rules and the optional
 * authenticated probe of the joiner) and remove.
 *
 * Why its own module: these are policies — which changes a join implies (members.ts planJoin),
 * when a removal is refused, when to hand over leadership first — built on three primitives the
 * runtime provides (check, propose a configuration change and wait for it to apply, transfer).
 * The runtime stays the Ready loop and request intake.
 */
import { GraftdError, NotLeaderError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { ConfChange, ConfState, NodeId } from '../raft/types.ts';
import type { JoinRequest } from './api.ts';
import { encodeMemberContext, isMember, planJoin } from './members.ts';

/** What a membership change needs from the runtime. */
export interface MembershipHost {
  readonly id: NodeId;
  readonly log: Log;
  /** The applied configuration. */
  confState(): ConfState;
  /** Throw unless this node may take writes (not failed, removed, out of disk…). */
  checkWritable(): void;
  /** Throw NotLeaderError unless this node leads. */
  checkLeader(): void;
  /** Propose a configuration change and resolve once it is applied (coded errors otherwise). */
  proposeConf(change: ConfChange): Promise<void>;
  /** Hand leadership to the most caught-up voter; resolves with its id. */
  transferAway(): Promise<NodeId>;
  /** The raft port authenticates peers (secret or TLS), and how to complete a handshake with a joiner. */
  peerSecured(): boolean;
  probe: ((id: NodeId, raftAddr: string) => Promise<void>) | undefined;
}

/** Add a member as a learner (replacing one with the same id or address first). See RaftNode.join. */
export async function joinMember(host: MembershipHost, request: JoinRequest): Promise<void> {
  host.checkWritable();
  host.checkLeader();
  if (request.id === '' || request.raftAddr === '')
    throw new GraftdError('GRAFTD_INVALID_BODY', 'join needs a non-empty id and raft address');
  const plan = planJoin(host.confState(), request.id, request.raftAddr, request.fresh === true);
  if (plan.noop) {
    host.log.info({ member: request.id, raftAddr: request.raftAddr }, 'join: already a member with this id and address; nothing to do');
    return;
  }
  for (const old of plan.remove) {
    if (old === host.id) {
      throw new GraftdError(
        'GRAFTD_INVALID_CONF_CHANGE',
        `join of ${request.id} at ${request.raftAddr} would replace the leader ${host.id}; remove it first`,
      );
    }
    host.log.info({ member: old, replacement: request.id }, 'join: removing the member with the same id or address first');
    await host.proposeConf({ type: 'removeNode', nodeId: old, context: '' });
  }
  if (request.verifyPeer === true) await verifyJoiner(host, request);
  const context = encodeMemberContext({ raftAddr: request.raftAddr, httpAddr: request.httpAddr, voter: request.voter });
  await host.proposeConf({ type: 'addLearner', nodeId: request.id, context });
  host.log.info({ member: request.id, raftAddr: request.raftAddr, voter: request.voter }, 'join: member added as a learner');
}

/**
 * Before a join that no admin vouched for: dial the joiner's raft address and complete an
 * authenticated handshake with it (cluster secret and/or peer certificate), so a node that
 * cannot prove them is never added, not even as a learner. Nothing to prove without peer security.
 */
async function verifyJoiner(host: MembershipHost, request: JoinRequest): Promise<void> {
  if (!host.peerSecured() || host.probe === undefined) return;
  try {
    await host.probe(request.id, request.raftAddr);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    host.log.warn(
      { member: request.id, raftAddr: request.raftAddr, err: why },
      'join refused: the joiner did not authenticate on its raft address',
    );
    throw new GraftdError(
      'GRAFTD_FORBIDDEN',
      `join of ${request.id} refused: could not complete an authenticated peer handshake with it at ${request.raftAddr} (${why}); it must run with the cluster's secret/certificates and listen there before joining`,
    );
  }
  // Membership may have changed while we waited: the caller re-checks leadership by proposing.
  host.checkLeader();
}

/** Remove a member; removing the leader itself hands leadership over first and throws NotLeaderError naming the new leader. */
export async function removeMember(host: MembershipHost, id: NodeId): Promise<void> {
  host.checkWritable();
  host.checkLeader();
  const cs = host.confState();
  if (!isMember(cs, id)) throw new GraftdError('GRAFTD_UNKNOWN_MEMBER', `${id} is not a member of the cluster`);
  if (cs.voters.length === 1 && cs.voters[0] === id) {
    throw new GraftdError('GRAFTD_LAST_VOTER', `${id} is the only voter; removing it would leave the cluster without voters`);
  }
  if (id === host.id) {
    // The leader cannot remove itself safely while leading: hand over, then let the new leader do it
    // (the HTTP layer forwards on NotLeaderError).
    throw new NotLeaderError(await host.transferAway());
  }
  await host.proposeConf({ type: 'removeNode', nodeId: id, context: '' });
  host.log.info({ member: id }, 'member removed');
}
