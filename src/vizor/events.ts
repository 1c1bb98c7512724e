/**
 * The live view's event vocabulary: raft/runtime events turned into small JSON records.
 *
 * Why a translation layer: the core's messages use terse internal names ('app', 'snap');
 * people watching the cluster think in the paper's names (AppendEntries, InstallSnapshot).
 * Translating here keeps the core free of presentation and the page free of core internals.
 */
import type { NodeEvent } from '../node/api.ts';
import { isReadRound } from '../raft/read-only.ts';
import type { Message, MessageType } from '../raft/types.ts';

/** Paper names of the RPCs, as shown in the vizor table. */
export type RpcName = 'AppendEntries' | 'Heartbeat' | 'ReadIndex' | 'RequestVote' | 'PreVote' | 'InstallSnapshot' | 'TimeoutNow';

export type VizorEventKind = 'send' | 'recv' | 'role' | 'vote' | 'commit' | 'apply' | 'snapshot' | 'membership';

/** One row of the vizor table. Fields irrelevant to a kind are omitted. */
export interface VizorEvent {
  /** Per-node sequence number, increasing by one; a gap tells the page that events were dropped. */
  seq: number;
  /** Wall-clock milliseconds since the epoch, to the microsecond (clock.ts). */
  t: number;
  node: string;
  kind: VizorEventKind;
  rpc?: RpcName;
  /** True for the response half of an RPC. */
  resp?: boolean;
  from?: string;
  to?: string;
  term?: number;
  index?: number;
  entries?: number;
  commit?: number;
  success?: boolean;
  role?: string;
  leader?: string;
  detail?: string;
}

const RPC_OF: Record<MessageType, { rpc: RpcName; resp: boolean }> = {
  app: { rpc: 'AppendEntries', resp: false },
  appResp: { rpc: 'AppendEntries', resp: true },
  heartbeat: { rpc: 'Heartbeat', resp: false },
  heartbeatResp: { rpc: 'Heartbeat', resp: true },
  vote: { rpc: 'RequestVote', resp: false },
  voteResp: { rpc: 'RequestVote', resp: true },
  preVote: { rpc: 'PreVote', resp: false },
  preVoteResp: { rpc: 'PreVote', resp: true },
  snap: { rpc: 'InstallSnapshot', resp: false },
  timeoutNow: { rpc: 'TimeoutNow', resp: false },
};

function messageFields(m: Message): Omit<VizorEvent, 'seq' | 't' | 'node' | 'kind'> {
  const { rpc: base, resp } = RPC_OF[m.type];
  // A heartbeat that carries a read round's id is the leader confirming its leadership for reads
  // (periodic heartbeats carry a round id too: their acknowledgements renew the lease).
  const rpc: RpcName = base === 'Heartbeat' && isReadRound(m.context) ? 'ReadIndex' : base;
  const fields: Omit<VizorEvent, 'seq' | 't' | 'node' | 'kind'> = { rpc, resp, from: m.from, to: m.to, term: m.term };
  if (m.type === 'app' || m.type === 'appResp' || m.type === 'vote' || m.type === 'preVote') fields.index = m.index;
  if (m.type === 'app') fields.entries = m.entries.length;
  if (m.type === 'app' || m.type === 'heartbeat') fields.commit = m.commit;
  if (resp) fields.success = !m.reject;
  if (m.type === 'snap' && m.snapshot !== null) fields.index = m.snapshot.index;
  return fields;
}

/** Translate a runtime event into a vizor record (without seq, assigned by the hub). */
export function toVizorEvent(node: string, event: NodeEvent, nowMs: number): Omit<VizorEvent, 'seq'> {
  switch (event.kind) {
    case 'send':
    case 'recv':
      return { t: nowMs, node, kind: event.kind, ...messageFields(event.message) };
    case 'role':
      return { t: nowMs, node, kind: 'role', role: event.role, term: event.term, leader: event.leader, detail: event.reason };
    case 'vote':
      return {
        t: nowMs,
        node,
        kind: 'vote',
        term: event.term,
        to: event.candidate,
        success: event.granted,
        rpc: event.pre ? 'PreVote' : 'RequestVote',
        ...(event.granted ? {} : { detail: event.reason }),
      };
    case 'commit':
      return { t: nowMs, node, kind: 'commit', index: event.index };
    case 'apply':
      return { t: nowMs, node, kind: 'apply', index: event.index, entries: event.count };
    case 'snapshot':
      return {
        t: nowMs,
        node,
        kind: 'snapshot',
        index: event.index,
        detail: event.peer === undefined ? event.action : `${event.action} ${event.peer}`,
      };
    case 'confChange':
      return { t: nowMs, node, kind: 'membership', index: event.index, detail: `${event.change.type} ${event.change.nodeId}` };
    case 'violation':
      // A message the core dropped as a protocol violation: shown as a received RPC, marked dropped.
      return {
        t: nowMs,
        node,
        kind: 'recv',
        ...RPC_OF[event.type],
        from: event.from,
        to: node,
        term: event.term,
        detail: `dropped: ${event.reason}`,
      };
  }
}
