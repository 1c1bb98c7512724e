/**
 * The consensus core's settings for a node, derived from its RuntimeConfig: one tick per heartbeat,
 * the election timeout in ticks, leases and CheckQuorum on the monotonic clock, pre-vote on, and
 * the chaos tests' deliberate faults (GRAFTD_TEST_FAULT) mapped to the core's test switches.
 *
 * Why separate: which knob becomes which core option is configuration, decided once; the runtime
 * only creates the core with it.
 */
import { performance } from 'node:perf_hooks';
import type { RaftConfig } from '../raft/api.ts';
import type { NodeId, RaftEvent } from '../raft/types.ts';
import { type RuntimeConfig, electionTicks } from './config.ts';

export function coreConfig(o: {
  readonly id: NodeId;
  readonly config: RuntimeConfig;
  readonly random: () => number;
  /** Index the state machine already reflects. */
  readonly applied: number;
  readonly onEvent: (e: RaftEvent) => void;
}): RaftConfig {
  const cfg = o.config;
  const fault = cfg.testFault;
  return {
    id: o.id,
    electionTicks: electionTicks(cfg),
    heartbeatTicks: 1,
    // Leases, the vote promise and CheckQuorum are measured on the monotonic clock (a stall is seen).
    clock: () => performance.now(),
    tickMs: cfg.heartbeatTimeoutMs,
    maxClockDrift: cfg.maxClockDrift,
    checkQuorumMs: cfg.leaderLeaseTimeoutMs,
    random: o.random,
    preVote: true,
    checkQuorum: fault !== 'no-check-quorum',
    applied: o.applied,
    onEvent: o.onEvent,
    ...(fault === 'no-check-quorum' ? { testFaults: { readIndexWithoutQuorum: true } } : {}),
    ...(fault === 'tick-leases' ? { testFaults: { tickLeases: true } } : {}),
  };
}
