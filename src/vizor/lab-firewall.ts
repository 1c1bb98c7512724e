/**
 * The lab's network faults: isolate a node, or make its links lossy, with iptables DROP rules.
 *
 * Why its own chain (GRAFTD-LAB) rather than the chaos harness's: a lab session and a chaos run
 * may meet on one machine, and each removes its own leftovers at start; sharing a chain would let
 * one heal the other's faults. The mechanism is the chaos harness's (test/chaos/firewall.ts, not
 * importable from src/): one chain reached by a single jump from OUTPUT that only matches
 * traffic between the lab's node addresses, every rule tagged `graftd-lab`, loss as
 * `-m statistic --mode random`. The nodes need one loopback address each (the transport binds its
 * address when dialling), and the page's own connections come from 127.0.0.1, which is never a
 * node address in lab mode — so isolating a node never cuts the browser off from it. Commands are
 * synchronous so that cleanup also works from a process 'exit' handler.
 */
import { execFileSync } from 'node:child_process';

export const LAB_CHAIN = 'GRAFTD-LAB';
export const LAB_COMMENT = 'graftd-lab';

/** Why network faults can or cannot run with these node addresses. */
export function probeLabFirewall(ips: readonly string[]): { readonly available: boolean; readonly reason: string } {
  if (process.platform !== 'linux') return { available: false, reason: 'isolate and slow link need root and iptables (Linux)' };
  if (new Set(ips).size !== ips.length || ips.includes('127.0.0.1'))
    return { available: false, reason: 'isolate and slow link need one loopback address per node, other than 127.0.0.1' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return { available: false, reason: 'isolate and slow link need root and iptables: not running as root' };
  try {
    execFileSync('iptables', ['-w', '-S', 'OUTPUT'], { stdio: 'pipe' });
    return { available: true, reason: '' };
  } catch (err) {
    return {
      available: false,
      reason: `isolate and slow link need root and iptables: iptables is not usable (${(err as Error).message.split('\n')[0]})`,
    };
  }
}

/** What one node's links suffer. */
export type LinkFault = { readonly kind: 'isolated' } | { readonly kind: 'slow'; readonly loss: number };

/** iptables arguments (after `-A LAB_CHAIN`) dropping packets from `from` to `to`, all or a random fraction. */
export function labRuleArgs(from: string, to: string, loss = 1): string[] {
  if (!(loss > 0 && loss <= 1)) throw new RangeError(`loss must be in (0, 1], found ${loss}`);
  const args = ['-s', from, '-d', to];
  if (loss < 1) args.push('-m', 'statistic', '--mode', 'random', '--probability', loss.toFixed(4));
  args.push('-m', 'comment', '--comment', LAB_COMMENT, '-j', 'DROP');
  return args;
}

/** Every rule for a set of node faults (both directions between a faulty node and each other node). */
export function labRules(ips: readonly string[], faults: ReadonlyMap<string, LinkFault>): string[][] {
  const rules: string[][] = [];
  for (const [ip, fault] of faults) {
    const loss = fault.kind === 'isolated' ? 1 : fault.loss;
    for (const other of ips) {
      if (other === ip) continue;
      rules.push(labRuleArgs(ip, other, loss), labRuleArgs(other, ip, loss));
    }
  }
  return rules;
}

const iptables = (args: readonly string[]): void => {
  execFileSync('iptables', ['-w', ...args], { stdio: 'pipe' });
};
const tryIptables = (args: readonly string[]): void => {
  try {
    iptables(args);
  } catch {
    // absent chain or rule: nothing to remove
  }
};

/** Owns GRAFTD-LAB for the lab's node addresses. */
export class LabFirewall {
  readonly #ips: readonly string[];
  readonly #jump: readonly string[];
  readonly #faults = new Map<string, LinkFault>();
  #installed = false;

  constructor(ips: readonly string[]) {
    this.#ips = ips;
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
      LAB_COMMENT,
      '-j',
      LAB_CHAIN,
    ];
  }

  /** Faults in force, by node address. */
  get faults(): ReadonlyMap<string, LinkFault> {
    return this.#faults;
  }

  /** Set (or with `undefined` clear) the fault of one node address and rewrite the chain. */
  set(ip: string, fault: LinkFault | undefined): void {
    if (!this.#ips.includes(ip)) throw new RangeError(`${ip} is not a lab node address`);
    if (fault === undefined) this.#faults.delete(ip);
    else this.#faults.set(ip, fault);
    if (!this.#installed) {
      LabFirewall.removeAll();
      iptables(['-N', LAB_CHAIN]);
      iptables(['-A', ...this.#jump]);
      this.#installed = true;
    }
    iptables(['-F', LAB_CHAIN]);
    for (const rule of labRules(this.#ips, this.#faults)) iptables(['-A', LAB_CHAIN, ...rule]);
  }

  /** Remove every lab rule, the jump and the chain. Never throws; safe to call many times. */
  uninstall(): void {
    this.#faults.clear();
    this.#installed = false;
    LabFirewall.removeAll();
  }

  /** Remove every jump to LAB_CHAIN from OUTPUT, then the chain (idempotent; also clears a crashed session's leftovers). */
  static removeAll(): void {
    let listing = '';
    try {
      listing = execFileSync('iptables', ['-w', '-S', 'OUTPUT'], { stdio: 'pipe', encoding: 'utf8' });
    } catch {
      return; // no iptables at all
    }
    // Delete by the rule's own text, not by number: others may edit OUTPUT at the same time.
    for (const line of listing.split('\n')) {
      if (!line.startsWith('-A OUTPUT ') || !line.includes(`-j ${LAB_CHAIN}`)) continue;
      tryIptables(['-D', ...line.trim().split(/\s+/).slice(1)]);
    }
    tryIptables(['-F', LAB_CHAIN]);
    tryIptables(['-X', LAB_CHAIN]);
  }
}
