/**
 * The fault profile of one run: which faults are switched on and how often they strike.
 *
 * Why drawn per seed: a fixed mix would explore one corner of the space forever. Each seed
 * draws its own rates (a calm network with many crashes, a lossy one with none, ...), so ten
 * thousand seeds cover many different regimes, and the draw itself replays from the seed.
 */
import type { NetworkConfig } from './network.ts';
import type { Prng } from './prng.ts';
import { drawTimeProfile, type TimeProfile } from './time.ts';

/** Switches for each kind of fault and client activity; all default to on. */
export interface FaultOptions {
  /** Crash nodes (losing unpersisted state) and restart them. */
  readonly crashes: boolean;
  /** Symmetric and one-way network partitions. */
  readonly partitions: boolean;
  /** Lost messages. */
  readonly drops: boolean;
  /** Duplicated messages. */
  readonly duplicates: boolean;
  /** Long message delays (beyond the heartbeat interval). */
  readonly slowMessages: boolean;
  /** Remove a voter, add it back as a learner, promote it. */
  readonly membership: boolean;
  /** Leadership transfers. */
  readonly transfers: boolean;
  /** Local snapshots and log compaction (which forces snapshot sends). */
  readonly compaction: boolean;
  /** Client ReadIndex reads (safe mode). */
  readonly reads: boolean;
  /** Also issue lease-based reads. Leases assume clock rates that differ by less than maxClockDrift, which the simulator honours. */
  readonly leaseReads: boolean;
  /** Node clocks run at different rates (within the configured maxClockDrift); ticks are scheduled on them. */
  readonly clockDrift: boolean;
  /** Processes stop (SIGSTOP): clock running, nothing handled; on resume one late tick and the queued messages. */
  readonly stalls: boolean;
  /** Ticks fire later than scheduled (a loaded event loop). */
  readonly lateTimers: boolean;
}

/** Everything on. */
export const ALL_FAULTS: FaultOptions = {
  crashes: true,
  partitions: true,
  drops: true,
  duplicates: true,
  slowMessages: true,
  membership: true,
  transfers: true,
  compaction: true,
  reads: true,
  leaseReads: true,
  clockDrift: true,
  stalls: true,
  lateTimers: true,
};

/** The time faults' switches all off (the CLI's --no-time-faults). */
export const NO_TIME_FAULT_SWITCHES = { clockDrift: false, stalls: false, lateTimers: false } as const;

/** Rates (per virtual ms) and sizes for one run. */
export interface Profile {
  readonly network: NetworkConfig;
  readonly crashPerMs: number;
  /** Probability that a newly elected leader crashes within a few ms (the Figure 8 windows). */
  readonly crashNewLeader: number;
  readonly partitionPerMs: number;
  readonly membershipPerMs: number;
  readonly transferPerMs: number;
  readonly proposePerMs: number;
  readonly readPerMs: number;
  /** Share of reads issued in lease mode. */
  readonly leaseShare: number;
  /** Take a local snapshot once this many entries were applied since the last one. */
  readonly snapshotEvery: number;
  /** Entries kept behind a snapshot when compacting (TRAILING_LOGS). */
  readonly trailing: number;
  /** Core knobs: small values exercise message splitting and the inflight window. */
  readonly maxMsgBytes: number;
  readonly maxInflight: number;
  /** Small values make the leader refuse proposals (backpressure). */
  readonly maxUncommittedBytes: number;
  readonly heartbeatTicks: number;
  /** Safety must hold without PreVote / CheckQuorum too (they only protect liveness and leases). */
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Clock drift, stalls and late timers (test/sim/time.ts). */
  readonly time: TimeProfile;
}

/**
 * A profile aimed at leases (the CLI's --lease-stress): the widest allowed drift with no margin,
 * frequent stalls mostly of leaders, late ticks up to beyond the core's stall threshold, lease reads
 * at every resume and as most of a heavy read load. Applied over the drawn profile.
 */
export const LEASE_STRESS: { readonly profile: Partial<Profile>; readonly time: Partial<TimeProfile> } = {
  profile: { readPerMs: 1 / 5, leaseShare: 0.8, checkQuorum: true },
  time: {
    leaseMarginMs: 0,
    driftSpread: 0.999,
    driftExtremes: true,
    stallPerMs: 1 / 250,
    longStallShare: 0.5,
    stallLeaderShare: 0.8,
    resumeReads: 1,
    lateTickRate: 0.2,
    lateTickMaxMs: 80,
  },
};

/** Draw a profile from `rng`, honouring the switches in `faults`. */
export function drawProfile(rng: Prng, faults: FaultOptions): Profile {
  const maxDelayMs = rng.pick([4, 10, 25]);
  return {
    network: {
      dropRate: faults.drops ? rng.pick([0, 0.01, 0.05, 0.15]) : 0,
      dupRate: faults.duplicates ? rng.pick([0, 0.02, 0.1]) : 0,
      minDelayMs: 1,
      maxDelayMs,
      slowRate: faults.slowMessages ? rng.pick([0, 0.01, 0.05]) : 0,
      slowMaxDelayMs: rng.pick([60, 250]),
    },
    crashPerMs: faults.crashes ? rng.pick([0, 1 / 2000, 1 / 700, 1 / 300]) : 0,
    crashNewLeader: faults.crashes ? rng.pick([0, 0, 0.2, 0.5]) : 0,
    partitionPerMs: faults.partitions ? rng.pick([0, 1 / 2000, 1 / 700, 1 / 300]) : 0,
    membershipPerMs: faults.membership ? rng.pick([0, 1 / 1000, 1 / 300]) : 0,
    transferPerMs: faults.transfers ? rng.pick([0, 1 / 1500, 1 / 400]) : 0,
    proposePerMs: rng.pick([1 / 40, 1 / 12, 1 / 4]),
    readPerMs: faults.reads ? rng.pick([0, 1 / 40, 1 / 10]) : 0,
    leaseShare: faults.leaseReads ? rng.pick([0, 0.5]) : 0,
    snapshotEvery: faults.compaction ? rng.pick([5, 20, 80]) : Number.POSITIVE_INFINITY,
    trailing: rng.pick([0, 3, 20]),
    maxMsgBytes: rng.pick([1 << 20, 1 << 20, 24, 1]),
    maxInflight: rng.pick([256, 256, 2]),
    maxUncommittedBytes: rng.pick([64 << 20, 64 << 20, 200]),
    heartbeatTicks: rng.pick([1, 1, 3]),
    preVote: rng.chance(0.85),
    checkQuorum: rng.chance(0.85),
    // Drawn last, so the draws above stay what they were before time faults existed.
    time: drawTimeProfile(rng, faults),
  };
}
