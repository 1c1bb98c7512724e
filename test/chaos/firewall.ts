/**
 * Network faults between chaos nodes with iptables DROP rules, all inside one chain of our own.
 *
 * Why one chain: every rule we add lives in GRAFTD-CHAOS, reached by a single jump from OUTPUT
 * that only matches traffic between our node addresses, so healing is "flush the chain" and
 * cleanup is "remove the jump, flush, delete" — nothing else on the machine is touched, and a
 * leftover from a crashed run is recognisable and removed on the next start. On loopback every
 * packet passes OUTPUT exactly once, so a rule "-s A -d B" cuts the direction A → B. Commands are
 * synchronous on purpose: cleanup must also work inside a process 'exit' handler.
 */
import { execFileSync } from 'node:child_process';

/** The chain that holds every chaos rule. */
export const CHAIN = 'GRAFTD-CHAOS';

/** A directed link fault: packets from `from` to `to` are dropped (with `probability` < 1: randomly). */
export interface LinkRule {
  readonly from: string;
  readonly to: string;
  /** Drop probability in (0, 1]; 1 (default) drops everything. */
  readonly probability?: number;
}

/** Rules that cut every link between two groups, in both directions. */
export function cutBetween(a: readonly string[], b: readonly string[]): LinkRule[] {
  const rules: LinkRule[] = [];
  for (const x of a) {
    for (const y of b) {
      if (x === y) continue;
      rules.push({ from: x, to: y }, { from: y, to: x });
    }
  }
  return rules;
}

/** The iptables arguments (after `-A CHAIN`) for one rule. */
export function ruleArgs(rule: LinkRule): string[] {
  const args = ['-s', rule.from, '-d', rule.to];
  const p = rule.probability ?? 1;
  if (!(p > 0 && p <= 1)) throw new RangeError(`drop probability must be in (0, 1], found ${p}`);
  if (p < 1) args.push('-m', 'statistic', '--mode', 'random', '--probability', p.toFixed(4));
  args.push('-j', 'DROP');
  return args;
}

/** Why network faults can or cannot run here (GRAFTD_CHAOS_NO_NETWORK=1 forces the non-root behaviour). */
export function probeFirewall(): { readonly available: true } | { readonly available: false; readonly reason: string } {
  if (process.env.GRAFTD_CHAOS_NO_NETWORK === '1') return { available: false, reason: 'GRAFTD_CHAOS_NO_NETWORK=1 is set' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { available: false, reason: 'not running as root' };
  try {
    execFileSync('iptables', ['-w', '-S', 'OUTPUT'], { stdio: 'pipe' });
    return { available: true };
  } catch (err) {
    return { available: false, reason: `iptables is not usable (${(err as Error).message.split('\n')[0]})` };
  }
}

/**
 * For tests that need network faults: the probe, except that under `CI=true` an unusable
 * firewall throws — CI installs iptables and runs as root (.ci/run), so a skip there would hide
 * that the network faults never ran.
 */
export function probeFirewallForTest(): ReturnType<typeof probeFirewall> {
  const probe = probeFirewall();
  if (!probe.available && process.env.CI === 'true')
    throw new Error(`CI=true but network faults cannot run: ${probe.reason} (.ci/run must run as root and apt-get install iptables)`);
  return probe;
}

/** Sum of the packet counters of the rules in `listing` (`iptables -L CHAIN -v -x -n`). */
export function countDropped(listing: string): number {
  let n = 0;
  for (const line of listing.split('\n')) {
    const m = /^\s*(\d+)\s+\d+\s+DROP\b/.exec(line);
    if (m !== null) n += Number(m[1]);
  }
  return n;
}

const iptables = (args: readonly string[]): void => {
  execFileSync('iptables', ['-w', ...args], { stdio: 'pipe' });
};
const tryIptables = (args: readonly string[]): boolean => {
  try {
    iptables(args);
    return true;
  } catch {
    return false;
  }
};

/** Owns the GRAFTD-CHAOS chain for the node addresses of one run. */
export class Firewall {
  readonly #jump: readonly string[];
  #installed = false;
  #rules: LinkRule[] = [];
  #dropped = 0;

  /** `ips` are the node addresses; only traffic among them is ever affected. */
  constructor(ips: readonly string[]) {
    const sorted = [...ips].sort((a, b) => Number(a.split('.')[3]) - Number(b.split('.')[3]));
    const range = `${sorted[0]}-${sorted[sorted.length - 1]}`;
    this.#jump = [
      'OUTPUT',
      '-m',
      'iprange',
      '--src-range',
      range,
      '--dst-range',
      range,
      '-m',
      'comment',
      '--comment',
      'graftd-chaos',
      '-j',
      CHAIN,
    ];
  }

  /** Create the chain and the jump to it, removing leftovers of an earlier crashed run first. */
  install(): void {
    Firewall.removeAll();
    iptables(['-N', CHAIN]);
    iptables(['-A', ...this.#jump]);
    this.#installed = true;
  }

  /** Replace the active rules with `rules` (an empty list heals the network). */
  apply(rules: readonly LinkRule[]): void {
    if (!this.#installed) throw new Error('firewall not installed');
    this.#countDrops();
    iptables(['-F', CHAIN]);
    this.#rules = [];
    for (const r of rules) {
      iptables(['-A', CHAIN, ...ruleArgs(r)]);
      this.#rules.push(r);
    }
  }

  /** Packets the rules dropped so far (counted whenever rules are replaced or healed): proof a fault bit. */
  get droppedPackets(): number {
    return this.#dropped;
  }

  #countDrops(): void {
    if (this.#rules.length === 0) return;
    try {
      this.#dropped += countDropped(execFileSync('iptables', ['-w', '-L', CHAIN, '-v', '-x', '-n'], { stdio: 'pipe', encoding: 'utf8' }));
    } catch {
      // a listing failure only loses the count
    }
  }

  /** The rules in force. */
  get rules(): readonly LinkRule[] {
    return this.#rules;
  }

  /** Drop every rule (the jump stays). */
  heal(): void {
    if (this.#installed) this.apply([]);
  }

  /** Remove the jump and the chain. Never throws; safe to call many times. */
  uninstall(): void {
    if (this.#installed) this.#countDrops();
    this.#installed = false;
    this.#rules = [];
    Firewall.removeAll();
  }

  /** Remove every jump to CHAIN from OUTPUT and INPUT, then the chain itself (idempotent, never throws). */
  static removeAll(): void {
    for (const builtin of ['OUTPUT', 'INPUT']) {
      let listing = '';
      try {
        listing = execFileSync('iptables', ['-w', '-S', builtin], { stdio: 'pipe', encoding: 'utf8' });
      } catch {
        return; // no iptables at all
      }
      // Delete by the rule's own text (not by number: others may edit the chain at the same time).
      for (const line of listing.split('\n')) {
        if (!line.startsWith(`-A ${builtin} `) || !line.includes(`-j ${CHAIN}`)) continue;
        tryIptables(['-D', ...line.trim().split(/\s+/).slice(1)]);
      }
    }
    tryIptables(['-F', CHAIN]);
    tryIptables(['-X', CHAIN]);
  }
}
