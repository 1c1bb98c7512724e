/**
 * The fault catalog and the seeded fault schedule.
 *
 * Why faults are chosen relative to the cluster's state (the leader *at that moment*): the
 * interesting failures are about the leader — killing it, pausing it, cutting it off with or
 * without a minority. Which fault, which other nodes, how long, and the quiet time between
 * faults all come from the run's seeded generator, so a seed replays the same schedule (the
 * leader it hits may differ, since elections depend on real timing). Faults never overlap:
 * each one is injected, held, then healed, which keeps a failing run readable. The one compound
 * fault, `membership`, is still one window: it injects a background fault (partition, kill or
 * pause), changes the membership while that is in force, then heals the background fault and
 * settles the membership.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Firewall, LinkRule } from './firewall.ts';
import { cutBetween } from './firewall.ts';
import type { MembershipContext } from './membership.ts';
import { membershipStep, settleMembership } from './membership.ts';
import type { ChaosCluster } from './nodes.ts';
import type { Rng } from './prng.ts';
import type { FaultWindow, Recorder } from './recorder.ts';

/** Faults that only need to signal processes. */
export const PROCESS_FAULTS = ['kill-leader', 'kill-follower', 'kill-random', 'pause-leader', 'pause-random', 'pause-leader-long'] as const;
/** Faults that change the membership (under a background fault drawn from the others). */
export const MEMBERSHIP_FAULTS = ['membership'] as const;
/** Faults that need iptables (root). */
export const NETWORK_FAULTS = [
  'partition-leader',
  'split-brain',
  'partition-halves',
  'partition-ring',
  'partition-bridge',
  'partition-oneway',
  'partition-follower',
  'packet-loss',
] as const;

export type FaultName = (typeof PROCESS_FAULTS)[number] | (typeof NETWORK_FAULTS)[number] | (typeof MEMBERSHIP_FAULTS)[number];

/** Every fault name. */
export const ALL_FAULTS: readonly FaultName[] = [...PROCESS_FAULTS, ...NETWORK_FAULTS, ...MEMBERSHIP_FAULTS];

/** Background faults of `membership` when the run's list names no other fault (network ones need iptables). */
export const DEFAULT_MEMBERSHIP_BACKGROUND: readonly FaultName[] = [
  'kill-leader',
  'kill-follower',
  'pause-leader-long',
  'partition-leader',
  'partition-follower',
  'split-brain',
  'partition-oneway',
];

/** A long pause holds SIGSTOP at least this many election timeouts (a new leader is elected meanwhile). */
export const LONG_PAUSE_ELECTION_TIMEOUTS = 3;

/** Whether a fault needs the firewall. */
export function isNetworkFault(name: FaultName): boolean {
  return (NETWORK_FAULTS as readonly string[]).includes(name);
}

/** Parse a comma-separated fault list ('all', 'process' and 'network' are shorthands). */
export function parseFaultList(text: string): FaultName[] {
  const out = new Set<FaultName>();
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const group: readonly FaultName[] | undefined =
      name === 'all'
        ? ALL_FAULTS
        : name === 'process'
          ? PROCESS_FAULTS
          : name === 'network'
            ? NETWORK_FAULTS
            : name === 'none'
              ? []
              : undefined;
    if (group !== undefined) for (const f of group) out.add(f);
    else if ((ALL_FAULTS as readonly string[]).includes(name)) out.add(name as FaultName);
    else throw new Error(`unknown fault "${name}"; expected one of: all, process, network, none, ${ALL_FAULTS.join(', ')}`);
  }
  return [...out];
}

/** The shortest list spelling of `faults` (for replay commands): all, process, network, none, or the names. */
export function describeFaultList(faults: readonly FaultName[]): string {
  const set = new Set(faults);
  const same = (group: readonly FaultName[]): boolean => set.size === group.length && group.every((f) => set.has(f));
  if (set.size === 0) return 'none';
  if (same(ALL_FAULTS)) return 'all';
  if (same(PROCESS_FAULTS)) return 'process';
  if (same(NETWORK_FAULTS)) return 'network';
  return [...set].join(',');
}

/** What a fault needs to act. */
export interface FaultContext {
  readonly cluster: ChaosCluster;
  /** Undefined when network faults are unavailable. */
  readonly firewall: Firewall | undefined;
  readonly rng: Rng;
  readonly recorder: Recorder;
  /** The nodes' ELECTION_TIMEOUT (ms) for the long pause (default 500, the chaos timing). */
  readonly electionTimeoutMs?: number;
  /** Needed by `membership`: the clients for admin calls and the base size. */
  readonly membership?: MembershipContext;
  /** Faults `membership` draws its background fault from (default DEFAULT_MEMBERSHIP_BACKGROUND). */
  readonly background?: readonly FaultName[];
  /** Bound on settling the membership when `membership` heals (default 15 000 ms). */
  readonly settleTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** The shortest hold of a fault (the long pause's 3 × ELECTION_TIMEOUT), 0 for the others. */
export function minHoldMs(name: FaultName, ctx: Pick<FaultContext, 'electionTimeoutMs'>): number {
  return name === 'pause-leader-long' ? LONG_PAUSE_ELECTION_TIMEOUTS * (ctx.electionTimeoutMs ?? 500) + 100 : 0;
}

/** Undo an injected fault. */
export type Heal = () => Promise<void>;

/** The current leader, or a random responsive node when none is known (said so in the detail). */
async function leaderOrRandom(ctx: FaultContext): Promise<{ id: string; note: string }> {
  const leader = await ctx.cluster.leader();
  if (leader !== undefined) return { id: leader, note: '' };
  const all = ctx.cluster.memberIds();
  return { id: ctx.rng.pick(all), note: ' (no leader known; picked at random)' };
}

/**
 * The links to cut for a partition fault (pure given the generator): `ids` all nodes,
 * `leader` the current leader. Returns the rules and a description.
 */
export function partitionRules(
  name: FaultName,
  ids: readonly string[],
  leader: string,
  rng: Rng,
  ipOf: (id: string) => string,
): { rules: LinkRule[]; detail: string } {
  const n = ids.length;
  const others = ids.filter((id) => id !== leader);
  const ips = (xs: readonly string[]): string[] => xs.map(ipOf);
  const groups = (a: readonly string[], b: readonly string[]): string => `{${a.join(',')}} | {${b.join(',')}}`;
  switch (name) {
    case 'partition-leader':
      return { rules: cutBetween(ips([leader]), ips(others)), detail: `isolate leader ${leader}: ${groups([leader], others)}` };
    case 'partition-follower': {
      const f = others.length > 0 ? rng.pick(others) : leader;
      const rest = ids.filter((id) => id !== f);
      return { rules: cutBetween(ips([f]), ips(rest)), detail: `isolate follower ${f}: ${groups([f], rest)}` };
    }
    case 'split-brain': {
      const minority = [leader, ...rng.shuffle(others).slice(0, Math.floor((n - 1) / 2) - 1)];
      const majority = ids.filter((id) => !minority.includes(id));
      return {
        rules: cutBetween(ips(minority), ips(majority)),
        detail: `leader with a minority vs the majority: ${groups(minority, majority)}`,
      };
    }
    case 'partition-halves': {
      const s = rng.shuffle(ids);
      const a = s.slice(0, Math.floor(n / 2));
      const b = s.slice(Math.floor(n / 2));
      return { rules: cutBetween(ips(a), ips(b)), detail: `random halves: ${groups(a, b)}` };
    }
    case 'partition-ring': {
      const s = rng.shuffle(ids);
      if (n <= 3) {
        const [a, b] = [s[0]!, s[1] ?? s[0]!];
        return { rules: cutBetween(ips([a]), ips([b])), detail: `majorities ring: cut ${a}–${b} (each node still sees a majority)` };
      }
      const rules: LinkRule[] = [];
      const cut: string[] = [];
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const d = Math.min(j - i, n - (j - i));
          if (d > 1) {
            rules.push(...cutBetween(ips([s[i]!]), ips([s[j]!])));
            cut.push(`${s[i]}–${s[j]}`);
          }
        }
      }
      return { rules, detail: `majorities ring ${s.join('→')}: cut ${cut.join(', ')}` };
    }
    case 'partition-bridge': {
      const s = rng.shuffle(ids);
      const bridge = s[0]!;
      const rest = s.slice(1);
      const a = rest.slice(0, Math.ceil(rest.length / 2));
      const b = rest.slice(Math.ceil(rest.length / 2));
      return { rules: cutBetween(ips(a), ips(b)), detail: `bridge through ${bridge}: ${groups(a, b)}, ${bridge} sees both` };
    }
    case 'partition-oneway': {
      const target = rng.next() < 0.5 ? leader : rng.pick(ids);
      const rest = ids.filter((id) => id !== target);
      const outgoing = rng.next() < 0.5;
      const rules = rest.map((o) => (outgoing ? { from: ipOf(target), to: ipOf(o) } : { from: ipOf(o), to: ipOf(target) }));
      return { rules, detail: `one-way: drop everything ${outgoing ? 'from' : 'to'} ${target}${target === leader ? ' (leader)' : ''}` };
    }
    case 'packet-loss': {
      const p = Math.round((0.1 + rng.next() * 0.4) * 100) / 100;
      const rules: LinkRule[] = [];
      for (const a of ids) for (const b of ids) if (a !== b) rules.push({ from: ipOf(a), to: ipOf(b), probability: p });
      return { rules, detail: `packet loss ${Math.round(p * 100)}% on every link` };
    }
    default:
      throw new Error(`${name} is not a network fault`);
  }
}

/** Inject one fault now; returns its description and how to heal it. */
export async function injectFault(ctx: FaultContext, name: FaultName): Promise<{ detail: string; heal: Heal }> {
  const { cluster, rng } = ctx;
  const ids = cluster.memberIds();
  switch (name) {
    case 'kill-leader':
    case 'kill-follower':
    case 'kill-random': {
      const l = await leaderOrRandom(ctx);
      let target = l.id;
      let note = name === 'kill-leader' ? l.note : '';
      if (name === 'kill-follower') {
        const followers = ids.filter((id) => id !== l.id);
        target = followers.length > 0 ? rng.pick(followers) : l.id;
      } else if (name === 'kill-random') target = rng.pick(ids);
      if (!cluster.isAlive(target)) note += ' (already down)';
      await cluster.kill(target);
      return {
        detail: `kill -9 ${target}${note}`,
        heal: async () => {
          if (!cluster.isAlive(target)) cluster.restart(target);
        },
      };
    }
    case 'pause-leader':
    case 'pause-leader-long':
    case 'pause-random': {
      const l = name === 'pause-random' ? { id: rng.pick(ids), note: '' } : await leaderOrRandom(ctx);
      cluster.pause(l.id);
      const long = name === 'pause-leader-long' ? ` (≥ ${LONG_PAUSE_ELECTION_TIMEOUTS} × ELECTION_TIMEOUT)` : '';
      return { detail: `SIGSTOP ${l.id}${l.note}${long}`, heal: async () => cluster.resume(l.id) };
    }
    case 'membership': {
      const m = ctx.membership;
      if (m === undefined) throw new Error('the membership fault needs a membership context');
      const pool = (ctx.background ?? DEFAULT_MEMBERSHIP_BACKGROUND).filter(
        (f) => f !== 'membership' && (ctx.firewall !== undefined || !isNetworkFault(f)),
      );
      const bg = pool.length > 0 ? rng.pick(pool) : undefined;
      const under = bg === undefined ? undefined : await injectFault(ctx, bg);
      // Let the background fault bite (an election may start) before changing the membership.
      await sleep(rng.int(200, 800));
      const step = await membershipStep(m);
      return {
        detail: `${step}, during ${bg === undefined ? 'no other fault' : `${bg}: ${under?.detail}`}`,
        heal: async () => {
          await under?.heal();
          const gap = await settleMembership(m, ctx.settleTimeoutMs ?? 15_000);
          if (gap !== '') ctx.log?.(`  membership not settled yet after healing (${gap}); the run goes on`);
        },
      };
    }
    default: {
      const fw = ctx.firewall;
      if (fw === undefined) throw new Error(`${name} needs iptables, which is unavailable`);
      const l = await leaderOrRandom(ctx);
      const { rules, detail } = partitionRules(name, ids, l.id, rng, (id) => cluster.spec(id).ip);
      fw.apply(rules);
      return { detail: detail + l.note, heal: async () => fw.heal() };
    }
  }
}

/** Timing of the schedule. */
export interface ScheduleOptions {
  /** Quiet time between faults, [min, max] ms. */
  readonly quietMs: readonly [number, number];
  /** How long each fault is held, [min, max] ms. */
  readonly holdMs: readonly [number, number];
}

/** Run faults drawn from `faults` until `untilMs` (recorder time) or `signal` aborts. Each fault is healed before the next. */
export async function runSchedule(
  ctx: FaultContext,
  faults: readonly FaultName[],
  untilMs: number,
  options: ScheduleOptions,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<FaultWindow[]> {
  const windows: FaultWindow[] = [];
  const { recorder, rng } = ctx;
  const wait = async (ms: number): Promise<void> => {
    await sleep(Math.max(0, ms), undefined, signal === undefined ? {} : { signal }).catch(() => undefined);
  };
  while (faults.length > 0 && !signal?.aborted) {
    await wait(rng.int(options.quietMs[0], options.quietMs[1]));
    const left = untilMs - recorder.now();
    if (left < options.holdMs[0] || signal?.aborted) break;
    const name = rng.pick(faults);
    const hold = Math.min(Math.max(rng.int(options.holdMs[0], options.holdMs[1]), minHoldMs(name, ctx)), left);
    if (hold < minHoldMs(name, ctx)) continue;
    const started = recorder.now();
    const { detail, heal } = await injectFault(ctx, name);
    const w = recorder.faultStarted(name, detail, started);
    windows.push(w);
    log(`  ${(started / 1000).toFixed(1)}s fault ${name}: ${detail} for ${(hold / 1000).toFixed(1)}s`);
    try {
      await wait(hold);
    } finally {
      await heal();
      recorder.faultEnded(w);
    }
  }
  return windows;
}
