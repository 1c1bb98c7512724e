/**
 * `npm start`: a local three-node cluster on 127.0.0.1 (node0–node2, HTTP 11000–11002, raft
 * 12000–12002, data under ./data/), founded together with -initial-cluster, printing the
 * endpoints and example commands once a leader is elected. Ctrl-C stops all three cleanly; running it again resumes the same data.
 *
 * Why a script and not three terminals: it is the README's first command, so it must just work.
 * The nodes run in their own process groups so that Ctrl-C reaches only this script, which then
 * stops them one at a time, current leader first (each leader hands over before it exits, so
 * no write is lost and no election timeout is waited for).
 *
 * `npm start -- --secure` does the same with everything on: generated certificates (raft port
 * and HTTPS, data/secure/), a cluster secret, and an admin user whose password is printed.
 *
 * `npm start -- --lab` (never the default) turns the live view into a Raft lab (docs/vizor.md):
 * this script, which owns the node processes, serves lab actions on a loopback port
 * (src/vizor/lab-server.ts) and the nodes relay the page's buttons to it. On Linux the lab nodes
 * get one loopback address each (127.0.0.2–4, or GRAFTD_LAB_HOSTS) so that iptables can isolate
 * one of them; their data lives in data/lab/. Combines with --secure (the lab is then admin-only).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { type LabProcesses, LabController } from '../src/vizor/lab-controller.ts';
import { LAB_TOKEN_ENV, LAB_URL_ENV, type ProcessState } from '../src/vizor/lab-protocol.ts';
import { startLabServer } from '../src/vizor/lab-server.ts';
import { type SecureMaterial, secureMaterial } from './secure-material.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/graftd');
const LAB = process.argv.slice(2).includes('--lab');
/** Lab data is kept apart: the lab nodes have other addresses than the plain cluster's. */
const DATA = resolve(process.env.GRAFTD_DATA ?? join(ROOT, 'data'), LAB ? 'lab' : '.');
/** One address per node in lab mode on Linux (iptables isolates by address); 127.0.0.1 for all otherwise. */
function hosts(): string[] {
  if (!LAB) return ['127.0.0.1', '127.0.0.1', '127.0.0.1'];
  const given = process.env.GRAFTD_LAB_HOSTS;
  if (given !== undefined && given !== '') {
    const list = given.split(',').map((h) => h.trim());
    if (list.length !== 3 || !list.every((h) => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)))
      throw new Error(`GRAFTD_LAB_HOSTS must name three loopback IPv4 addresses, found ${given}`);
    return list;
  }
  return process.platform === 'linux' ? ['127.0.0.2', '127.0.0.3', '127.0.0.4'] : ['127.0.0.1', '127.0.0.1', '127.0.0.1'];
}
const HOSTS = hosts();
const NODES = [0, 1, 2].map((i) => ({
  id: `node${i}`,
  ip: HOSTS[i]!,
  http: `${HOSTS[i]}:${11000 + i}`,
  raft: `${HOSTS[i]}:${12000 + i}`,
  dir: join(DATA, `node${i}`),
}));
/** Wait this long for a leader before giving up. */
const LEADER_TIMEOUT_MS = 60_000;
/** Wait this long for one node to stop after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;
const SECURE = process.argv.slice(2).includes('--secure');
const SCHEME = SECURE ? 'https' : 'http';

/** Certificates, secret and admin user under DATA/secure (made once, reused on the next start). */
function secureSetup(): Promise<SecureMaterial> {
  return secureMaterial(
    join(DATA, 'secure'),
    NODES.map((n) => n.id),
  );
}

let secure: SecureMaterial | undefined;
let agent: Agent | undefined;

function securityArgs(id: string): string[] {
  if (secure === undefined) return [];
  const c = secure.certs.get(id)!;
  return [
    '-cluster-secret-file',
    secure.secretFile,
    '-peer-cert',
    c.cert,
    '-peer-key',
    c.key,
    '-peer-ca',
    secure.ca,
    '-http-cert',
    c.cert,
    '-http-key',
    c.key,
    '-http-ca',
    secure.ca,
    '-auth-file',
    secure.authFile,
  ];
}

interface Running {
  readonly id: string;
  readonly http: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Lab mode: SIGSTOPped by a lab action. */
  paused: boolean;
  /** Lab mode: killed or restarted on purpose (no "exited unexpectedly"). */
  expectedExit: boolean;
}

/** Lab mode: the supervisor's link given to every node (see src/vizor/lab-proxy.ts). */
let labEnv: Record<string, string> = {};

/** The three found the cluster together (the production path, docs/operations.md → Found a cluster); ignored once a node has state. */
const INITIAL_CLUSTER = [
  '-initial-cluster',
  NODES.map((n) => `${n.id}=${n.raft}`).join(','),
  '-initial-cluster-http',
  NODES.map((n) => `${n.id}=${n.http}`).join(','),
];

function start(n: (typeof NODES)[number]): Running {
  mkdirSync(DATA, { recursive: true });
  const args = [BIN, '-id', n.id, '-haddr', n.http, '-raddr', n.raft, ...INITIAL_CLUSTER, ...securityArgs(n.id), n.dir];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'inherit', 'pipe'],
    detached: true,
    env: { ...process.env, ...labEnv },
  });
  const logFile = join(DATA, `${n.id}.log`);
  child.stderr?.pipe(createWriteStream(logFile, { flags: 'a' }));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const r: Running = { id: n.id, http: n.http, child, exited, paused: false, expectedExit: false };
  void exited.then((code) => {
    if (!stopping && !r.expectedExit) console.error(`${n.id} exited unexpectedly (code ${code}); see ${logFile}`);
  });
  return r;
}

const alive = (r: Running): boolean => r.child.exitCode === null && r.child.signalCode === null;

/** Lab mode: what the lab does to the processes of this script. */
function labProcesses(): LabProcesses {
  const restarting = new Set<string>();
  const find = (id: string): Running => {
    const r = running.find((x) => x.id === id);
    if (r === undefined) throw new Error(`no node ${id}`);
    return r;
  };
  return {
    state(id): ProcessState {
      const r = find(id);
      if (restarting.has(id)) return 'starting';
      return !alive(r) ? 'dead' : r.paused ? 'stopped' : 'running';
    },
    signal(id, signal) {
      const r = find(id);
      if (!alive(r)) return;
      if (signal === 'SIGKILL') r.expectedExit = true;
      r.child.kill(signal);
      r.paused = signal === 'SIGSTOP';
    },
    async restart(id) {
      const r = find(id);
      if (restarting.has(id)) return;
      restarting.add(id);
      try {
        if (alive(r)) {
          r.expectedExit = true;
          if (r.paused) r.child.kill('SIGCONT');
          r.child.kill('SIGTERM');
          const timer = setTimeout(() => r.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await r.exited;
          clearTimeout(timer);
        }
        if (stopping) {
          restarting.delete(id);
          return;
        }
        const fresh = start(NODES.find((n) => n.id === id)!);
        running[running.indexOf(r)] = fresh;
        // 'starting' until it answers (in the background: the page sees the state change), so the
        // client load does not count refused connections as failed writes.
        void (async () => {
          const deadline = Date.now() + LEADER_TIMEOUT_MS;
          while (alive(fresh) && !stopping && Date.now() < deadline && (await status(fresh.http)) === undefined) await sleep(100);
          restarting.delete(id);
        })();
      } catch (err) {
        restarting.delete(id);
        throw err;
      }
    },
  };
}

/** Lab mode: one call to a node for the lab (status, leadership transfer, the client load). */
async function labHttp(httpAddr: string, method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (secure !== undefined) headers.authorization = `Basic ${Buffer.from(`admin:${secure.password}`).toString('base64')}`;
  const res = await request(`${SCHEME}://${httpAddr}${path}`, {
    method,
    headers,
    signal: AbortSignal.timeout(5000),
    ...(body === undefined ? {} : { body }),
    ...(agent === undefined ? {} : { dispatcher: agent }),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

let lab: LabController | undefined;

/** Lab mode: the controller and its loopback endpoint; the nodes learn its URL and token from their environment. */
async function startLab(): Promise<void> {
  lab = new LabController({
    nodes: NODES.map((n) => ({ id: n.id, ip: n.ip, httpAddr: n.http, raftAddr: n.raft })),
    processes: labProcesses(),
    http: labHttp,
    electionTimeoutMs: Number(process.env.ELECTION_TIMEOUT ?? 1000) || 1000,
    heartbeatMs: Number(process.env.HEARTBEAT_TIMEOUT ?? 100) || 100,
  });
  const token = randomBytes(24).toString('hex');
  const { url } = await startLabServer(lab, token);
  labEnv = { [LAB_URL_ENV]: url, [LAB_TOKEN_ENV]: token };
}

async function status(http: string): Promise<{ role?: string; leaderId?: string; members?: { voter: boolean }[] } | undefined> {
  try {
    const headers: Record<string, string> =
      secure === undefined ? {} : { authorization: `Basic ${Buffer.from(`admin:${secure.password}`).toString('base64')}` };
    const res = await request(`${SCHEME}://${http}/status`, {
      headers,
      signal: AbortSignal.timeout(1000),
      ...(agent === undefined ? {} : { dispatcher: agent }),
    });
    const text = await res.body.text();
    return res.statusCode === 200 ? (JSON.parse(text) as { role?: string; leaderId?: string }) : undefined;
  } catch {
    return undefined;
  }
}

async function leaderOf(nodes: readonly Running[]): Promise<string | undefined> {
  const all = await Promise.all(nodes.map((n) => status(n.http)));
  const leader = all.find((s) => s?.role === 'leader');
  return leader === undefined ? undefined : String(leader.leaderId);
}

let stopping = false;
const running: Running[] = [];

async function stopAll(): Promise<void> {
  stopping = true;
  if (lab !== undefined) {
    // Undo the lab's faults first: a stopped node cannot act on SIGTERM, an isolated leader cannot hand over.
    lab.close();
    for (const r of running) if (r.paused && alive(r)) r.child.kill('SIGCONT');
  }
  console.log('\nstopping the cluster (leader first)...');
  while (running.some((r) => r.child.exitCode === null && r.child.signalCode === null)) {
    const alive = running.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    const leader = await leaderOf(alive);
    const next = alive.find((r) => r.id === leader) ?? alive[0]!;
    next.child.kill('SIGTERM');
    const timer = setTimeout(() => next.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const code = await next.exited;
    clearTimeout(timer);
    console.log(`  ${next.id} stopped${code === 0 ? '' : ` (exit ${code})`}`);
  }
  console.log(`data kept in ${DATA}; run npm start again to resume`);
}

async function main(): Promise<void> {
  let interrupted = 0;
  const onSignal = (): void => {
    interrupted++;
    if (interrupted > 1) {
      for (const r of running) r.child.kill('SIGKILL');
      process.exit(1);
    }
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The nodes run detached: if this script dies of an error, ask them to stop rather than orphan them.
  process.on('exit', () => {
    lab?.close();
    for (const r of running) {
      if (!alive(r)) continue;
      if (r.paused) r.child.kill('SIGCONT');
      r.child.kill('SIGTERM');
    }
  });

  if (SECURE) {
    secure = await secureSetup();
    agent = new Agent({ connect: { ca: readFileSync(secure.ca) } });
  }
  if (LAB) await startLab();
  for (const n of NODES) running.push(start(n));
  console.log(`starting ${NODES.length} nodes (data in ${DATA}, logs in ${DATA}/node*.log)...`);

  const deadline = Date.now() + LEADER_TIMEOUT_MS;
  let leader: string | undefined;
  while (!stopping && Date.now() < deadline) {
    const all = await Promise.all(running.map((r) => status(r.http)));
    const lead = all.find((s) => s?.role === 'leader');
    const voters = lead?.members?.filter((m) => m.voter).length ?? 0;
    if (lead !== undefined && voters === NODES.length && all.every((s) => s?.leaderId === lead.leaderId)) {
      leader = String(lead.leaderId);
      break;
    }
    await sleep(200);
  }
  if (stopping) return;
  if (leader === undefined) {
    console.error(`no leader within ${LEADER_TIMEOUT_MS / 1000} s; see the logs in ${DATA}`);
    await stopAll();
    process.exit(1);
  }
  const n0 = NODES[0]!.http;
  const n1 = NODES[1]!.http;
  const n2 = NODES[2]!.http;
  if (secure !== undefined) {
    printSecure(secure, leader);
    if (lab !== undefined) printLab(lab);
    return;
  }
  console.log(`
graftd cluster is up — leader: ${leader}
${NODES.map((n) => `  ${n.id}  http://${n.http}  (raft ${n.raft})`).join('\n')}

Try:
  curl -XPOST http://${n1}/key -d '{"user":"kj"}'
  curl http://${n2}/key/user
  curl 'http://${n2}/key/user?level=stale'
  curl -XDELETE http://${n0}/key/user
  curl http://${n0}/status

  bin/graftctl --endpoints ${n0},${n1},${n2} status
  bin/graftctl --endpoints ${n0} set user kj && bin/graftctl --endpoints ${n2} get user

Live view: http://${n0}/ui        Ctrl-C stops all three nodes.`);
  if (lab !== undefined) printLab(lab);
}

function printLab(l: LabController): void {
  const net = l.state().network;
  console.log(`
LAB MODE: the live view has per-node buttons (stop, resume, kill -9, restart, time out now, isolate,
heal, slow link) and a client load switch; guide in docs/vizor.md. Open ${SCHEME}://${NODES[1]!.http}/ui
${net.available ? '  isolate / slow link: available (iptables chain GRAFTD-LAB, removed on exit)' : `  isolate / slow link unavailable: ${net.reason}`}`);
}

function printSecure(s: SecureMaterial, leader: string): void {
  const [n0, n1, n2] = NODES.map((n) => n.http) as [string, string, string];
  console.log(`
graftd cluster is up, SECURE mode — leader: ${leader}
${NODES.map((n) => `  ${n.id}  https://${n.http}  (raft ${n.raft}, TLS + cluster secret)`).join('\n')}

Material in ${s.dir}: CA ${s.ca}, per-node certificates, the cluster secret, users.json.
Admin user: admin   password: ${s.password}   (also in ${s.passwordFile})

Try:
  curl --cacert ${s.ca} -u admin:${s.password} -XPOST https://${n1}/key -d '{"user":"kj"}'
  curl --cacert ${s.ca} -u admin:${s.password} https://${n2}/key/user
  curl --cacert ${s.ca} https://${n0}/key/user          # 401: credentials required

  export GRAFTD_ENDPOINTS=https://${n0},https://${n1},https://${n2} GRAFTD_CACERT=${s.ca} GRAFTD_USER=admin GRAFTCTL_PASSWORD=${s.password}
  bin/graftctl status
  bin/graftctl user add alice --role write --auth-file ${s.authFile}   # then: kill -HUP the nodes to reload

Live view: https://${n0}/ui (trust ${s.ca} or accept the warning; log in as admin)   Ctrl-C stops all three nodes.`);
}

void main();
