/**
 * Running container command lines (docker-compose*.yml, deploy/kubernetes/) as local processes.
 *
 * Why: no Docker engine or Kubernetes cluster runs here, so the container and Kubernetes tests run
 * the exact argv the files give graftd, changing only what a container's namespaces provide: its
 * own IP (each container gets a loopback address, its DNS names point there through /etc/hosts)
 * and its mounts (a mount path becomes a temp directory). These helpers do that substitution, run
 * the Dockerfile's HEALTHCHECK command, stop processes the way `docker stop` / the kubelet do
 * (SIGTERM, then SIGKILL after a grace period) and read a node's /status over http or https.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join as joinPath, resolve } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import type { NodeStatus } from '../../src/node/api.ts';
import { type NodeInfo, type NodeProcess, spawnGraftd } from '../integration/cluster.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

/** Mount path → host directory, longest mount first. */
export type Mounts = ReadonlyArray<readonly [string, string]>;

/** Rewrite a container path (or a string holding one at its start) through the mounts. */
export function hostPath(mounts: Mounts, value: string): string {
  const sorted = [...mounts].sort((a, b) => b[0].length - a[0].length);
  for (const [mount, dir] of sorted) {
    if (value === mount) return dir;
    if (value.startsWith(`${mount}/`)) return joinPath(dir, value.slice(mount.length + 1));
  }
  return value;
}

/** The Dockerfile's HEALTHCHECK command (exec form) and the URL its script asks by default. */
export function dockerHealthcheck(): { argv: string[]; defaultUrl: string } {
  const text = readFileSync(joinPath(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const match = /HEALTHCHECK[^\n]*?CMD\s+(\[.*\])/.exec(text);
  if (match === null) throw new Error('Dockerfile has no HEALTHCHECK CMD [...]');
  const argv = JSON.parse(match[1]!) as string[];
  const url = /'(https?:\/\/[^']+)'/.exec(argv.join(' '))?.[1];
  if (url === undefined) throw new Error('the HEALTHCHECK script names no default URL');
  return { argv, defaultUrl: url };
}

/** Run an argv whose argv[0] is `node` with this Node; resolves with the exit code (killed after 10 s). */
export function runNodeCommand(argv: readonly string[], env: Readonly<Record<string, string>>): Promise<number> {
  if (argv[0] !== 'node') throw new Error(`expected a node command, got ${argv[0]}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, argv.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise(code ?? -1);
    });
  });
}

/** Start bin/graftd with `args` as a container would (its env on top of the test's). */
export function startContainer(info: NodeInfo, args: readonly string[], env: Readonly<Record<string, string>>): NodeProcess {
  return spawnGraftd(args, env, info.logFile, info);
}

/** SIGTERM, then SIGKILL after `graceMs` (docker stop: 10 s; Kubernetes: terminationGracePeriodSeconds). */
export async function stopContainer(p: NodeProcess, graceMs: number): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  if (p.child.exitCode !== null || p.child.signalCode !== null) return { code: p.child.exitCode, ms: 0 };
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, ms: Date.now() - started };
}

/** GET /status of `base` (http:// or https:// URL; `ca` to verify https, `authorization` when users are on), undefined when it does not answer. */
export async function statusAt(base: string, o: { ca?: string; authorization?: string } = {}): Promise<NodeStatus | undefined> {
  try {
    const dispatcher = o.ca === undefined ? undefined : new Agent({ connect: { ca: readFileSync(o.ca) } });
    const res = await undiciFetch(`${base}/status`, {
      signal: AbortSignal.timeout(2000),
      headers: o.authorization === undefined ? {} : { authorization: o.authorization },
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    const body = (await res.json()) as NodeStatus;
    await dispatcher?.close();
    return res.ok ? body : undefined;
  } catch {
    return undefined;
  }
}

/** Every line of a node's log file that carries `text`. */
export function logLines(info: NodeInfo, text: string): string[] {
  try {
    return readFileSync(info.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(text));
  } catch {
    return [];
  }
}

/** Start `/bin/sh -c script` (a container's `command: [/bin/sh, -c]` + `args: [script]`) as a graftd node. */
export function startScript(info: NodeInfo, script: string, env: Readonly<Record<string, string>>): NodeProcess {
  const child = spawn('/bin/sh', ['-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(info.logFile, { flags: 'a' });
  child.stderr.pipe(log);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out = (out + s).slice(-64 * 1024);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('exit', (code, signal) => res({ code, signal }));
  });
  return { info, child, exited, stdout: () => out };
}
