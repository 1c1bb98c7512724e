/**
 * deploy/kubernetes/: the manifests parsed with a YAML parser and checked structurally (the fields
 * a StatefulSet of graftd needs, ports and probes matching the flags the container passes, Secrets
 * mounted where the env points), then the container's exact command (its `/bin/sh -c` script and
 * env, with what the downward API gives: POD_NAME, POD_NAMESPACE, POD_IP) run on loopback for pods
 * graftd-0..3 in namespace `graftd`: each pod's DNS name (graftd-N.graftd.graftd.svc.cluster.local)
 * and the client Service's name mapped in /etc/hosts (127.0.0.141–144; the Service name points at
 * graftd-0, standing in for the Service's virtual IP), the Secrets' files made with openssl.
 * Founding with -initial-cluster, a write and a read through the client Service, scale-up (graftd-3
 * joins through the Service), the documented scale-down (graftctl remove, then the pod goes), a
 * leader pod restarted (SIGTERM: leadership moves first) and a founder replaced after losing its
 * volume (GRAFTD_INITIAL_CLUSTER_STATE=existing). Needs root for /etc/hosts: skipped with the
 * reason otherwise, fails under CI=true.
 */
import assert from 'node:assert/strict';
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TestContext, test } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { parseAllDocuments } from 'yaml';
import { createTestPki } from '../../scripts/pki.ts';
import { emptyAuthFile, withUser, writeAuthFile } from '../../src/security/auth-file.ts';
import { type RunResult, graftctlProcess } from '../client/helpers.ts';
import { type NodeInfo, type NodeProcess, TEST_ENV } from '../integration/cluster.ts';
import { type Mounts, ROOT, hostPath, startScript, stopContainer } from './containers.ts';
import { hostsUnavailable, mapHosts } from './etc-hosts.ts';
import { waitFor } from './helpers.ts';

const DIR = joinPath(ROOT, 'deploy/kubernetes');
const NAMESPACE = 'graftd';
const IPS = ['127.0.0.141', '127.0.0.142', '127.0.0.143', '127.0.0.144'];

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
type Obj = any;

/** Every object of the kustomization's resources, by kind/name. */
function manifests(): Map<string, Obj> {
  const kustomization = parseAllDocuments(readFileSync(joinPath(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as Obj;
  const out = new Map<string, Obj>();
  for (const file of kustomization.resources as string[]) {
    for (const doc of parseAllDocuments(readFileSync(joinPath(DIR, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      const o = doc.toJS() as Obj;
      out.set(`${o.kind}/${o.metadata.name}`, o);
    }
  }
  return out;
}

function envOf(container: Obj): Map<string, Obj> {
  return new Map((container.env as Obj[]).map((e) => [e.name, e]));
}

function envValue(container: Obj, name: string): string {
  const e = envOf(container).get(name);
  assert.ok(e !== undefined && typeof e.value === 'string', `env ${name} has a value`);
  return e.value;
}

const ms = manifests();
const sts = ms.get('StatefulSet/graftd');
const container = sts?.spec.template.spec.containers.find((c: Obj) => c.name === 'graftd');

test('manifests: StatefulSet, Services, PodDisruptionBudget, probes and ports match the flags', () => {
  assert.ok(sts, 'StatefulSet graftd');
  const headless = ms.get(`Service/${sts.spec.serviceName}`);
  assert.ok(headless, 'the StatefulSet names its headless Service');
  assert.equal(headless.spec.clusterIP, 'None');
  assert.equal(headless.spec.publishNotReadyAddresses, true, 'founders resolve each other before any is ready');
  const clientName = envValue(container, 'GRAFTD_CLIENT_SERVICE');
  const client = ms.get(`Service/${clientName}`);
  assert.ok(client, `client Service ${clientName}`);
  assert.notEqual(client.spec.clusterIP, 'None');
  assert.equal(envValue(container, 'GRAFTD_PEER_SERVICE'), sts.spec.serviceName);
  assert.equal(sts.spec.podManagementPolicy, 'Parallel', 'OrderedReady would deadlock the founders');
  assert.ok(sts.spec.replicas >= Number(envValue(container, 'GRAFTD_FOUNDERS')));
  assert.equal(envValue(container, 'GRAFTD_FOUNDERS'), '3');
  assert.equal(envValue(container, 'GRAFTD_INITIAL_CLUSTER_STATE'), 'new');

  const labels = sts.spec.template.metadata.labels;
  const selects = (sel: Obj): boolean => Object.entries(sel).every(([k, v]) => labels[k] === v);
  assert.ok(selects(sts.spec.selector.matchLabels));
  assert.ok(selects(headless.spec.selector) && selects(client.spec.selector));
  const pdb = ms.get('PodDisruptionBudget/graftd');
  assert.equal(pdb.spec.maxUnavailable, 1);
  assert.ok(selects(pdb.spec.selector.matchLabels));

  // Ports: the names the probes and Services use, the numbers the script passes to graftd.
  const ports = new Map((container.ports as Obj[]).map((p) => [p.name, p.containerPort]));
  assert.deepEqual(Object.fromEntries(ports), { http: 11000, raft: 12000 });
  const script: string = container.args[0];
  assert.deepEqual(container.command, ['/bin/sh', '-c']);
  assert.match(script, /-haddr "\$ip:11000" -raddr "\$ip:12000"/);
  assert.match(script, /-radv "\$self:12000" -hadv "\$self:11000"/);
  assert.match(script, /\$\{set_name\}-\$i\.\$\{peers\}:12000/, 'founders listed by their raft port');
  assert.match(script, /\$\{set_name\}-\$i\.\$\{peers\}:11000/, 'and by their HTTP port');
  assert.match(script, /-initial-cluster "\$members" -initial-cluster-http "\$http" -initial-cluster-state new/);
  assert.match(script, /-join "\$\{GRAFTD_CLIENT_SERVICE\}\.\$\{POD_NAMESPACE\}\.svc\.\$\{CLUSTER_DOMAIN\}:11000"/);
  assert.match(script, /^\s*exec \/app\/bin\/graftd /m, 'graftd replaces the shell (it gets SIGTERM)');
  for (const svc of [headless, client]) {
    for (const p of svc.spec.ports as Obj[]) assert.equal(ports.get(p.targetPort), p.port, `${svc.metadata.name} ${p.name}`);
  }
  // Probes: HTTPS because HTTP_CERT is set; readiness /readyz, liveness and startup /healthz.
  const https = envOf(container).has('HTTP_CERT');
  assert.ok(https);
  for (const [probe, path] of [
    ['readinessProbe', '/readyz'],
    ['livenessProbe', '/healthz'],
    ['startupProbe', '/healthz'],
  ] as const) {
    const g = container[probe].httpGet;
    assert.deepEqual([g.path, g.port, g.scheme], [path, 'http', 'HTTPS'], probe);
  }
  // Shutdown: SIGTERM transfers leadership within SHUTDOWN_TRANSFER_TIMEOUT; preStop only waits.
  const preStop: string[] = container.lifecycle.preStop.exec.command;
  assert.equal(preStop[0], 'sleep');
  const graceMs = sts.spec.template.spec.terminationGracePeriodSeconds * 1000;
  assert.ok(graceMs > Number(preStop[1]) * 1000 + Number(envValue(container, 'SHUTDOWN_TRANSFER_TIMEOUT')) + 5000);

  // Secrets: every file the env names lives on a read-only mount of a Secret volume.
  const volumes = new Map((sts.spec.template.spec.volumes as Obj[]).map((v) => [v.name, v]));
  const mounts = container.volumeMounts as Obj[];
  for (const name of ['CLUSTER_SECRET_FILE', 'PEER_CERT', 'PEER_KEY', 'PEER_CA', 'HTTP_CERT', 'HTTP_KEY', 'HTTP_CA', 'AUTH_FILE']) {
    const file = envValue(container, name);
    const mount = mounts.find((m) => file.startsWith(`${m.mountPath}/`));
    assert.ok(mount?.readOnly, `${name}=${file} is on a read-only mount`);
    assert.ok(volumes.get(mount.name)?.secret?.secretName, `${name} comes from a Secret`);
  }
  // Data: the claim template is mounted at /data and the script's data directory is under it.
  const claim = sts.spec.volumeClaimTemplates[0];
  assert.equal(mounts.find((m) => m.name === claim.metadata.name)?.mountPath, '/data');
  assert.match(script, / \/data\/graftd\s*$/);
  assert.equal(sts.spec.persistentVolumeClaimRetentionPolicy.whenScaled, 'Delete');
  // Non-root as the image's user (Dockerfile: USER node = uid 1000), volumes group-owned by it.
  const pod = sts.spec.template.spec.securityContext;
  assert.deepEqual([pod.runAsNonRoot, pod.runAsUser, pod.fsGroup], [true, 1000, 1000]);
  assert.match(readFileSync(joinPath(ROOT, 'Dockerfile'), 'utf8'), /^USER node$/m);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  if (container.securityContext.readOnlyRootFilesystem === true)
    assert.ok(
      mounts.some((m) => m.mountPath === '/tmp' && volumes.get(m.name)?.emptyDir !== undefined),
      'a writable /tmp (tsx cache)',
    );
  for (const kind of ['requests', 'limits']) {
    assert.ok(container.resources[kind].cpu && container.resources[kind].memory, `resources.${kind}`);
  }
});

/** A pod of the StatefulSet run as a process: the script with the downward API's env and the mounts mapped. */
interface Pod {
  readonly name: string;
  readonly info: NodeInfo;
  proc?: NodeProcess;
}

function needHosts(t: TestContext): boolean {
  const why = hostsUnavailable();
  if (why === '') return true;
  if (process.env.CI === 'true') assert.fail(`${why}: CI must run this test`);
  t.skip(why);
  return false;
}

test('kubernetes: the container command on loopback: found, write, read, scale up and down, restart, replace', async (t) => {
  if (!needHosts(t)) return;
  const root = mkdtempSync(joinPath(tmpdir(), 'graftd-k8s-'));
  const domain = envValue(container, 'CLUSTER_DOMAIN');
  const peers = `${sts.spec.serviceName}.${NAMESPACE}.svc.${domain}`;
  const clientHost = `${envValue(container, 'GRAFTD_CLIENT_SERVICE')}.${NAMESPACE}.svc.${domain}`;
  const dnsName = (i: number): string => `graftd-${i}.${peers}`;
  const names: Record<string, string> = { [clientHost]: IPS[0]! };
  IPS.forEach((ip, i) => {
    names[dnsName(i)] = ip;
  });
  const hosts = mapHosts('kubernetes', names);
  const pods: Pod[] = IPS.map((ip, i) => ({
    name: `graftd-${i}`,
    info: {
      id: `graftd-${i}`,
      ip,
      httpAddr: `${ip}:11000`,
      raftAddr: `${ip}:12000`,
      dataDir: joinPath(root, `data-graftd-${i}`, 'graftd'),
      logFile: joinPath(root, `graftd-${i}.log`),
    },
  }));
  try {
    // --- The Secrets (docs/operations.md): one certificate for every pod and the client Service.
    const secrets = joinPath(root, 'secrets');
    const tlsDir = joinPath(secrets, 'tls');
    const secretDir = joinPath(secrets, 'cluster-secret');
    const authDir = joinPath(secrets, 'auth');
    for (const d of [tlsDir, secretDir, authDir]) mkdirSync(d, { recursive: true });
    const pki = createTestPki(joinPath(root, 'pki'));
    const cert = pki.issue('graftd', { ips: [], dns: [`*.${peers}`, clientHost] });
    copyFileSync(cert.cert, joinPath(tlsDir, 'tls.crt'));
    copyFileSync(cert.key, joinPath(tlsDir, 'tls.key'));
    copyFileSync(pki.ca, joinPath(tlsDir, 'ca.crt'));
    writeFileSync(joinPath(secretDir, 'cluster-secret'), randomBytes(32).toString('hex'));
    const password = randomBytes(12).toString('base64url');
    writeAuthFile(joinPath(authDir, 'users.json'), await withUser(emptyAuthFile(), 'admin', 'admin', password));
    for (const f of ['tls/tls.crt', 'tls/tls.key', 'tls/ca.crt', 'cluster-secret/cluster-secret', 'auth/users.json'])
      chmodSync(joinPath(secrets, f), 0o440); // what the Secret volume's defaultMode gives

    const volumeDirs: Record<string, string> = { 'cluster-secret': secretDir, tls: tlsDir, auth: authDir, tmp: joinPath(root, 'tmp') };
    const mountsFor = (pod: Pod): Mounts => [
      ['/app', ROOT],
      ...(container.volumeMounts as Obj[]).map(
        (m) => [m.mountPath as string, m.name === 'data' ? joinPath(root, `data-${pod.name}`) : volumeDirs[m.name]!] as const,
      ),
    ];
    const script: string = container.args[0];
    const start = (pod: Pod, extraEnv: Record<string, string> = {}): void => {
      const mounts = mountsFor(pod);
      for (const [, dir] of mounts) mkdirSync(dir, { recursive: true });
      const env: Record<string, string> = { ...TEST_ENV };
      for (const e of container.env as Obj[]) {
        if (typeof e.value === 'string') env[e.name] = hostPath(mounts, e.value);
      }
      // The downward API.
      Object.assign(env, { POD_NAME: pod.name, POD_NAMESPACE: NAMESPACE, POD_IP: pod.info.ip }, extraEnv);
      let mapped = script;
      // One pass, so a host directory put in is never rewritten again (it may itself start with /tmp/).
      const sorted = [...mounts].sort((a, b) => b[0].length - a[0].length);
      const pattern = new RegExp(`(?<![\\w/.-])(${sorted.map(([path]) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})/`, 'g');
      mapped = mapped.replace(pattern, (_m, path: string) => `${sorted.find(([p]) => p === path)![1]}/`);
      pod.proc = startScript(pod.info, mapped, env);
    };
    const ca = joinPath(tlsDir, 'ca.crt');
    const dispatcher = new Agent({ connect: { ca: readFileSync(ca) } });
    const probe = async (i: number, path: string): Promise<number> => {
      try {
        const res = await undiciFetch(`https://${dnsName(i)}:11000${path}`, { dispatcher, signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0;
      }
    };
    const ready = (i: number): Promise<true> =>
      waitFor(`${pods[i]!.name} ready (/readyz)`, async () => ((await probe(i, '/readyz')) === 200 ? true : undefined), 45_000, 200);
    const clientEnv = {
      GRAFTD_ENDPOINTS: `https://${clientHost}:11000`,
      GRAFTD_CACERT: ca,
      GRAFTD_USER: 'admin',
      GRAFTCTL_PASSWORD: password,
    };
    const ctl = (args: string[], endpoints?: string): Promise<RunResult> =>
      graftctlProcess(endpoints === undefined ? args : ['--endpoints', endpoints, ...args], clientEnv);
    const ok = async (args: string[], endpoints?: string): Promise<string> => {
      const r = await ctl(args, endpoints);
      assert.equal(r.code, 0, `graftctl ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      return r.stdout;
    };
    type Members = { leaderId: string; members: { id: string; raftAddr: string; httpAddr: string; voter: boolean }[] };
    const members = async (): Promise<Members> => JSON.parse(await ok(['--json', 'members'])) as Members;

    // --- kubectl apply: the three founders start at once (podManagementPolicy: Parallel).
    for (const pod of pods.slice(0, 3)) start(pod);
    await Promise.all([0, 1, 2].map(ready));
    assert.equal(await probe(0, '/healthz'), 200);
    const formed = await members();
    assert.deepEqual(formed.members.map((m) => m.id).sort(), ['graftd-0', 'graftd-1', 'graftd-2']);
    for (const [i, m] of formed.members.entries()) {
      const n = Number(m.id.slice(-1));
      assert.equal(m.raftAddr, `${dnsName(n)}:12000`, `member ${i} advertises its pod DNS name`);
      assert.equal(m.httpAddr, `${dnsName(n)}:11000`);
      assert.ok(m.voter);
    }
    assert.equal(await ok(['set', 'greeting', 'hello']), 'OK\n');
    assert.equal(await ok(['get', 'greeting']), 'hello\n');

    // --- Scale up: kubectl scale --replicas=4 → graftd-3 joins through the client Service.
    start(pods[3]!);
    await ready(3);
    await waitFor('graftd-3 is a voter', async () => {
      const m = await members();
      return m.members.some((x) => x.id === 'graftd-3' && x.voter && x.raftAddr === `${dnsName(3)}:12000`) ? true : undefined;
    });
    assert.equal(await ok(['get', 'greeting', '--level', 'stale'], `https://${dnsName(3)}:11000`), 'hello\n');

    // --- Scale down (docs/operations.md): graftctl remove graftd-3 first, then kubectl scale --replicas=3.
    assert.match(await ok(['remove', 'graftd-3']), /graftd-3/);
    const removed = await pods[3]!.proc!.exited; // a removed member stops by itself
    assert.equal(removed.code, 1);
    assert.deepEqual((await members()).members.map((m) => m.id).sort(), ['graftd-0', 'graftd-1', 'graftd-2']);
    assert.equal(await ok(['set', 'after-scale-down', 'yes']), 'OK\n');

    // --- A rolling restart step on the leader's pod: SIGTERM moves leadership first, exit 0 within the grace period.
    const grace = sts.spec.template.spec.terminationGracePeriodSeconds * 1000;
    const leader = (await members()).leaderId;
    const leaderPod = pods.find((p) => p.name === leader)!;
    // The endpoints controller takes a terminating pod out of the client Service (the preStop sleep's reason).
    const serviceTo = (pod: Pod): void => hosts.set(clientHost, pod.info.ip);
    if (leaderPod === pods[0]) serviceTo(pods[1]!);
    const stopped = await stopContainer(leaderPod.proc!, grace);
    assert.equal(stopped.code, 0);
    assert.ok(
      readFileSync(leaderPod.info.logFile, 'utf8').includes('leadership transferred before shutdown'),
      'the leader handed over on SIGTERM',
    );
    assert.equal(await ok(['set', 'during-restart', 'yes']), 'OK\n');
    start(leaderPod); // same volume: -initial-cluster is ignored, the membership on disk counts
    await ready(pods.indexOf(leaderPod));
    assert.equal(await ok(['get', 'during-restart', '--level', 'stale'], `https://${dnsName(pods.indexOf(leaderPod))}:11000`), 'yes\n');

    // --- A founder loses its volume: remove it, delete its claim, and with GRAFTD_INITIAL_CLUSTER_STATE=existing
    //     the new pod joins through the Service instead of founding anything.
    serviceTo(pods[0]!);
    const victim = pods.find((p) => p !== pods[0] && p.proc?.child.exitCode === null)!;
    const victimIndex = pods.indexOf(victim);
    await stopContainer(victim.proc!, grace);
    assert.match(await ok(['remove', victim.name]), new RegExp(victim.name));
    rmSync(joinPath(root, `data-${victim.name}`), { recursive: true, force: true });
    start(victim, { GRAFTD_INITIAL_CLUSTER_STATE: 'existing' });
    await ready(victimIndex);
    await waitFor(`${victim.name} is a voter again`, async () => {
      const m = await members();
      return m.members.length === 3 && m.members.some((x) => x.id === victim.name && x.voter) ? true : undefined;
    });
    for (const key of ['greeting', 'after-scale-down', 'during-restart'])
      assert.equal(
        await ok(['get', key, '--level', 'stale'], `https://${dnsName(victimIndex)}:11000`),
        key === 'greeting' ? 'hello\n' : 'yes\n',
      );

    // --- Tear down.
    for (const pod of pods) if (pod.proc !== undefined) await stopContainer(pod.proc, grace);
    await dispatcher.close();
  } finally {
    for (const pod of pods) if (pod.proc?.child.exitCode === null && pod.proc.child.signalCode === null) pod.proc.child.kill('SIGKILL');
    hosts.restore();
    await sleep(50);
    rmSync(root, { recursive: true, force: true });
  }
});
