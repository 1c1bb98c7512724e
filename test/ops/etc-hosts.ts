/**
 * Map DNS names to loopback addresses in /etc/hosts for one test, and take them out again.
 *
 * Why: the container and Kubernetes tests run the exact command lines of docker-compose*.yml and
 * deploy/kubernetes/, which name peers by DNS name (nodew:12000,
 * graftd-0.graftd.default.svc.cluster.local:12000). Mapping those names is the only way to run
 * them unchanged on one machine. Writing /etc/hosts needs root: the tests skip with the reason
 * otherwise, and fail under CI=true (CI runs as root, so a skip there would hide a regression).
 *
 * Why marked lines instead of writing the backup back: another test or tool may edit the file
 * while ours runs; restore() removes exactly the lines it added (each ends with the tag) and
 * leaves the rest as it finds it. A process 'exit' hook restores too if the test dies first.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const HOSTS_FILE = '/etc/hosts';

export interface HostsMapping {
  /** Point `name` at `ip` (replacing this mapping's earlier line for the name). */
  set(name: string, ip: string): void;
  /** Remove this mapping's lines; idempotent. */
  restore(): void;
}

/** '' when this process may edit /etc/hosts, else why not. */
export function hostsUnavailable(): string {
  if (process.getuid?.() !== 0) return 'editing /etc/hosts needs root (CI runs as root)';
  try {
    writeFileSync(HOSTS_FILE, readFileSync(HOSTS_FILE, 'utf8'));
  } catch (err) {
    return `cannot write ${HOSTS_FILE}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  return '';
}

/** Add `names` (name → ip) to /etc/hosts, each line tagged with `# graftd-test:<tag>`. */
export function mapHosts(tag: string, names: Readonly<Record<string, string>>): HostsMapping {
  const marker = `# graftd-test:${tag}`;
  const current = new Map(Object.entries(names));
  const write = (): void => {
    const kept = readFileSync(HOSTS_FILE, 'utf8')
      .split('\n')
      .filter((line) => !line.endsWith(marker));
    while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
    const ours = [...current].map(([name, ip]) => `${ip} ${name} ${marker}`);
    writeFileSync(HOSTS_FILE, `${[...kept, ...ours].join('\n')}\n`);
  };
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    current.clear();
    write();
    process.off('exit', restore);
  };
  process.on('exit', restore);
  write();
  return {
    set(name, ip) {
      if (restored) throw new Error('mapHosts: already restored');
      current.set(name, ip);
      write();
    },
    restore,
  };
}
