/**
 * Promotion of learners that asked to vote (joined with voter: true) once they have caught up.
 *
 * Why its own module: it is a leader-side policy over the core's progress view, run from the
 * runtime's tick; keeping it apart keeps the runtime to the Ready loop and request intake.
 */
import type { Log } from '../log.ts';
import type { RaftCore } from '../raft/api.ts';
import { decodeMemberContext } from './members.ts';

/** A learner that wants to vote is promoted once its match index is within this many entries of the leader's last index. */
export const PROMOTE_MAX_LAG_ENTRIES = 256;

/**
 * On the leader: propose promoting the first caught-up learner that asked to vote — one change at
 * a time (nothing while a configuration change is pending or a leadership transfer runs). Caught
 * up = acknowledging appends (replicate state, recently active) and within PROMOTE_MAX_LAG_ENTRIES
 * of the last index. Returns the promoted id, or undefined when none was proposed.
 */
export function maybePromote(core: RaftCore, log: Log): string | undefined {
  const st = core.status();
  if (st.pendingConfIndex > st.applied || st.leadTransferee !== '') return undefined;
  for (const id of st.confState.learners) {
    const ctx = decodeMemberContext(st.confState.context[id]);
    const pv = st.progress[id];
    if (!ctx.voter || pv === undefined || !pv.recentActive || pv.state !== 'replicate' || pv.match === 0) continue;
    if (pv.match + PROMOTE_MAX_LAG_ENTRIES < st.lastIndex) continue;
    try {
      const r = core.proposeConfChange({ type: 'promoteLearner', nodeId: id, context: st.confState.context[id] ?? '' });
      log.info({ member: id, match: pv.match, lastIndex: st.lastIndex, index: r.index }, 'promoting caught-up learner to voter');
      return id;
    } catch (err) {
      log.debug({ member: id, err: (err as Error).message }, 'promotion not proposed');
    }
    return undefined;
  }
  return undefined;
}
