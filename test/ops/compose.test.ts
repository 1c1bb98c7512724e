/**
 * docker-compose.yml and docker-compose.secure.yml, as `docker compose` would run them, on loopback:
 * each service's exact `command:` and `environment:` with its hostname mapped to its own
 * 127.0.0.13x in /etc/hosts (a container's IP), its volumes mapped to temp directories, started in
 * `depends_on` order once the Dockerfile's HEALTHCHECK command passes for the dependency; the
 * client service's environment for graftctl; then `docker compose down` (SIGTERM, 10 s grace) and
 * `up` again with the data kept and nodee "re-created" on another address (127.0.0.134), which
 * must keep its membership because members advertise their service names.
 * Needs root for /etc/hosts: skipped with the reason otherwise, fails under CI=true.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TestContext, test } from 'node:test';
import { parse } from 'yaml';
import { secureMaterial } from '../../scripts/secure-material.ts';
import { type RunResult, graftctlProcess } from '../client/helpers.ts';
import { type NodeInfo, type NodeProcess, TEST_ENV } from '../integration/cluster.ts';
import { type Mounts, ROOT, dockerHealthcheck, hostPath, runNodeCommand, startContainer, stopContainer } from './containers.ts';
import { hostsUnavailable, mapHosts } from './etc-hosts.ts';
import { waitFor } from './helpers.ts';

const NODES = ['nodew', 'nodee', 'noder'] as const;
const IPS: Record<string, string> = { nodew: '127.0.0.131', nodee: '127.0.0.132', noder: '127.0.0.133' };
/** Where nodee's "re-created container" lives after down + up. */
const RECREATED_IP = '127.0.0.134';
/** docker stop's default grace period before SIGKILL. */
const STOP_GRACE_MS = 10_000;

interface Service {
  command?: string[];
  hostname?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  profiles?: string[];
  restart?: string;
}

function composeFile(name: string): { services: Record<string, Service>; volumes: Record<string, unknown> } {
  return parse(readFileSync(joinPath(ROOT, name), 'utf8'), { merge: true });
}

/** The service's volumes as mount → host directory (named volumes under `root`, ./x relative to `project`). */
function mountsOf(svc: Service, root: string, project: string): Mounts {
  return (svc.volumes ?? []).map((v) => {
    const [source, target] = v.split(':') as [string, string];
    return [target, source.startsWith('./') ? joinPath(project, source.slice(2)) : joinPath(root, 'volumes', source)] as const;
  });
}

function mappedEnv(svc: Service, mounts: Mounts): Record<string, string> {
  return Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, hostPath(mounts, String(v))]));
}

/** skip (or, under CI=true, fail) when /etc/hosts cannot be edited. */
function needHosts(t: TestContext): boolean {
  const why = hostsUnavailable();
  if (why === '') return true;
  if (process.env.CI === 'true') assert.fail(`${why}: CI must run this test`);
  t.skip(why);
  return false;
}

test('compose files: hostnames advertised, -initial-cluster, depends_on on /healthz, no fixed IPs', () => {
  const health = dockerHealthcheck();
  assert.equal(health.argv[0], 'node');
  assert.equal(health.defaultUrl, 'http://127.0.0.1:11000/healthz', 'Docker health (what depends_on waits for) is /healthz');
  for (const dockerfile of ['Dockerfile', 'Dockerfile.client']) {
    const from = /^FROM node:(\d+)-/m.exec(readFileSync(joinPath(ROOT, dockerfile), 'utf8'))?.[1];
    assert.ok(from === '22' || from === '24', `${dockerfile}: Node 22 or 24 LTS, found ${from}`);
  }
  for (const file of ['docker-compose.yml', 'docker-compose.secure.yml']) {
    const { services, volumes } = composeFile(file);
    const members = NODES.map((s) => `${s}=${s}:12000`).join(',');
    const httpMembers = NODES.map((s) => `${s}=${s}:11000`).join(',');
    for (const s of NODES) {
      const svc = services[s]!;
      const cmd = svc.command!;
      const flag = (name: string): string | undefined => cmd[cmd.indexOf(name) + 1];
      assert.equal(svc.hostname, s);
      assert.equal(flag('-id'), s, `${file} ${s}`);
      assert.equal(flag('-radv'), `${s}:12000`, `${file} ${s}: advertises its name, not its IP`);
      assert.equal(flag('-hadv'), `${s}:11000`, `${file} ${s}`);
      assert.equal(flag('-initial-cluster'), members, `${file} ${s}: the same founding list everywhere`);
      assert.equal(flag('-initial-cluster-http'), httpMembers, `${file} ${s}: the founders' HTTP addresses`);
      assert.ok(!cmd.includes('-join'), `${file} ${s}: founders do not join`);
      // The container's own defaults apply (HTTP 0.0.0.0:11000, raft on its IP:12000): the test supplies them.
      for (const f of ['-haddr', '-raddr']) assert.ok(!cmd.includes(f), `${file} ${s} sets no ${f}`);
      assert.match(cmd[cmd.length - 1]!, new RegExp(`^/data/${s}$`));
      assert.ok(svc.volumes?.includes(`${s}-data:/data`) || svc.volumes?.some((v) => v === `${s}-data:/data`), `${file} ${s} volume`);
      assert.ok(s in (volumes ?? {}) || `${s}-data` in (volumes ?? {}));
      assert.equal(svc.restart, 'unless-stopped');
      if (s !== 'nodew') assert.deepEqual(svc.depends_on, { nodew: { condition: 'service_healthy' } });
      const url = svc.environment?.GRAFTD_HEALTH_URL;
      if (url !== undefined) assert.match(url, /\/healthz$/, `${file} ${s}: health for depends_on is /healthz`);
      assert.doesNotMatch(JSON.stringify(svc), /\b(?:\d{1,3}\.){3}\d{1,3}\b(?!:11000\/healthz)/, `${file} ${s}: no fixed IP`);
    }
    assert.deepEqual(services.client!.profiles, ['client']);
  }
});

interface Running {
  readonly procs: Map<string, NodeProcess>;
  readonly infos: Map<string, NodeInfo>;
}

/**
 * `docker compose up -d` of the node services: start in depends_on order, a dependent only after
 * the Dockerfile's HEALTHCHECK passes for what it depends on (as condition: service_healthy does).
 */
async function composeUp(file: string, root: string, project: string, ips: Record<string, string>): Promise<Running> {
  const { services } = composeFile(file);
  const health = dockerHealthcheck();
  const procs = new Map<string, NodeProcess>();
  const infos = new Map<string, NodeInfo>();
  const healthy = new Set<string>();
  const waitHealthy = async (s: string): Promise<void> => {
    if (healthy.has(s)) return;
    const svc = services[s]!;
    const env = mappedEnv(svc, mountsOf(svc, root, project));
    // Inside the container 127.0.0.1 is the container itself: here, its own address.
    const url = (env.GRAFTD_HEALTH_URL ?? health.defaultUrl).replace('127.0.0.1', ips[s]!);
    await waitFor(
      `${s} healthy (${url})`,
      async () => ((await runNodeCommand(health.argv, { ...env, GRAFTD_HEALTH_URL: url })) === 0 ? true : undefined),
      30_000,
      200,
    );
    healthy.add(s);
  };
  for (const s of NODES) {
    const svc = services[s]!;
    for (const dep of Object.keys(svc.depends_on ?? {})) await waitHealthy(dep);
    const mounts = mountsOf(svc, root, project);
    for (const [, dir] of mounts) mkdirSync(dir, { recursive: true });
    const ip = ips[s]!;
    const info: NodeInfo = {
      id: s,
      ip,
      httpAddr: `${ip}:11000`,
      raftAddr: `${ip}:12000`,
      dataDir: hostPath(mounts, `/data/${s}`),
      logFile: joinPath(root, `${s}.log`),
    };
    infos.set(s, info);
    const args = ['-haddr', info.httpAddr, '-raddr', info.raftAddr, ...svc.command!.map((a) => hostPath(mounts, a))];
    procs.set(s, startContainer(info, args, { ...TEST_ENV, ...mappedEnv(svc, mounts) }));
  }
  for (const s of NODES) await waitHealthy(s);
  return { procs, infos };
}

/** `docker compose down` (volumes kept): dependents first, each SIGTERM with docker's 10 s grace; exit 0 in time. */
async function composeDown(run: Running): Promise<void> {
  for (const group of [['nodee', 'noder'], ['nodew']]) {
    const results = await Promise.all(group.map((s) => stopContainer(run.procs.get(s)!, STOP_GRACE_MS)));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, `${group[i]} exited ${r.code} after SIGTERM`);
      assert.ok(r.ms < STOP_GRACE_MS, `${group[i]} stopped within docker's grace period (${r.ms} ms)`);
    });
  }
}

function killAll(run: Running | undefined): void {
  for (const p of run?.procs.values() ?? []) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

interface StatusJson {
  leaderId: string;
  members: { id: string; raftAddr: string; httpAddr: string; role: string; voter: boolean; error: string }[];
}

/** graftctl status --json until every member answers and one leader is agreed. */
async function clusterFormed(ctl: (args: string[]) => Promise<RunResult>): Promise<StatusJson> {
  return waitFor(
    'graftctl status: three members answer, one leader',
    async () => {
      const r = await ctl(['--json', 'status']);
      if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr.trim()} ${r.stdout.trim()}`);
      const s = JSON.parse(r.stdout) as StatusJson;
      if (s.members.length === 3 && s.members.filter((m) => m.role === 'leader').length === 1) return s;
      throw new Error(r.stdout.trim());
    },
    45_000,
    300,
  );
}

function assertMembership(s: StatusJson): void {
  assert.deepEqual(s.members.map((m) => m.id).sort(), [...NODES].sort());
  for (const m of s.members) {
    assert.equal(m.raftAddr, `${m.id}:12000`, `${m.id} is known by its name`);
    assert.equal(m.httpAddr, `${m.id}:11000`);
    assert.equal(m.voter, true);
    assert.equal(m.error, '');
  }
}

async function composeRound(t: TestContext, file: string, secure: boolean): Promise<void> {
  if (!needHosts(t)) return;
  const root = mkdtempSync(joinPath(tmpdir(), 'graftd-compose-'));
  const project = joinPath(root, 'project');
  const hosts = mapHosts(`compose-${secure ? 'secure' : 'plain'}`, IPS);
  let run: Running | undefined;
  try {
    let password = '';
    if (secure) {
      // The README's `npx tsx scripts/secure-material.ts ./secure nodew nodee noder`; the certificates also
      // name the loopback addresses that stand for each container's own 127.0.0.1 (the health check's URL).
      const m = await secureMaterial(joinPath(project, 'secure'), [...NODES], ['127.0.0.1', ...Object.values(IPS), RECREATED_IP]);
      password = m.password;
    }
    const client = composeFile(file).services.client!;
    const clientEnv = { ...mappedEnv(client, mountsOf(client, root, project)), ...(secure ? { GRAFTCTL_PASSWORD: password } : {}) };
    const ctl = (args: string[]): Promise<RunResult> => graftctlProcess(args, clientEnv);

    run = await composeUp(file, root, project, IPS);
    assertMembership(await clusterFormed(ctl));
    assert.equal(ok(await ctl(['set', 'user', 'kj']), 'set'), 'OK\n');
    assert.equal(ok(await ctl(['get', 'user', '--level', 'stale']), 'get stale'), 'kj\n');

    await composeDown(run);
    // docker compose up again: same volumes; nodee's container is re-created with another IP.
    hosts.set('nodee', RECREATED_IP);
    run = await composeUp(file, root, project, { ...IPS, nodee: RECREATED_IP });
    const after = await clusterFormed(ctl);
    assertMembership(after);
    assert.equal(ok(await ctl(['get', 'user']), 'get after down + up'), 'kj\n');
    assert.equal(ok(await ctl(['set', 'after', 'restart']), 'set after down + up'), 'OK\n');
    // nodee (new address) has the new write too: it is a working member, not a stranger.
    await waitFor('nodee applied the write', async () => {
      const r = await graftctlProcess(
        ['--endpoints', secure ? 'https://nodee:11000' : 'nodee:11000', 'get', 'after', '--level', 'stale'],
        clientEnv,
      );
      return r.code === 0 && r.stdout === 'restart\n' ? true : undefined;
    });
    await composeDown(run);
    run = undefined;
  } finally {
    killAll(run);
    hosts.restore();
    await sleep(50);
    rmSync(root, { recursive: true, force: true });
  }
}

test('docker-compose.yml: the exact commands on loopback; down + up with the volumes kept and a re-created container', async (t) => {
  await composeRound(t, 'docker-compose.yml', false);
});

test('docker-compose.secure.yml: the exact commands (TLS, secret, users) on loopback; down + up', async (t) => {
  await composeRound(t, 'docker-compose.secure.yml', true);
});
