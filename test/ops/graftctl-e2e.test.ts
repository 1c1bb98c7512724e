/**
 * End to end, as a user runs it: the three-node demo started with docker-compose.yml's own
 * commands (service names rewritten to 127.0.0.56 addresses; test/ops/compose.test.ts runs them
 * unchanged with the names in /etc/hosts), the Dockerfile's health check, every graftctl
 * subcommand as a real bin/graftctl process with the client image's GRAFTD_ENDPOINTS, then a
 * backup restored into fresh clusters (127.0.0.57) both ways (graftctl restore + graftd, and
 * graftd --restore) with identical contents.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath, resolve } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { secureMaterial } from '../../scripts/secure-material.ts';
import { GraftdClient, readBackupLayout } from '../../src/client/index.ts';
import { restoreSnapshot } from '../../src/kv/index.ts';
import { graftctl, graftctlProcess, lines, type RunResult } from '../client/helpers.ts';
import { Cluster, type NodeInfo, type NodeProcess, spawnGraftd, TEST_ENV } from '../integration/cluster.ts';
import { hasVoters, statusOf, waitFor, waitMembers } from './helpers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SERVICES = ['nodew', 'nodee', 'noder'];

/** The `command:` array of each node service in docker-compose.yml. */
function composeCommands(): Map<string, string[]> {
  const compose = parseYaml(readFileSync(joinPath(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { command?: string[] }>;
  };
  const out = new Map<string, string[]>();
  for (const [name, svc] of Object.entries(compose.services)) if (svc.command !== undefined) out.set(name, svc.command);
  return out;
}

/** The value of a Dockerfile instruction written in JSON (exec) form, e.g. ENTRYPOINT or HEALTHCHECK's CMD. */
function dockerJson(file: string, pattern: RegExp): string[] {
  const text = readFileSync(joinPath(ROOT, file), 'utf8').replace(/\\\n/g, ' ');
  const match = pattern.exec(text);
  assert.ok(match !== null, `${file} has ${pattern}`);
  return JSON.parse(match[1]!) as string[];
}

function run(argv: readonly string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise(code ?? -1);
    });
  });
}

async function entriesOf(stream: AsyncIterable<Uint8Array>): Promise<[string, string][]> {
  const store = await restoreSnapshot(stream);
  return [...store.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

async function* chunks(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr, '', `${what}: nothing on stderr`);
  return r.stdout;
}

test('compose demo, health check, every graftctl subcommand, backup and restore', async (t) => {
  const cluster = new Cluster({ ips: ['127.0.0.56'], httpPortBase: 19040, raftPortBase: 19140 });
  const restored = new Cluster({ ips: ['127.0.0.57'], httpPortBase: 19050, raftPortBase: 19150 });
  const procs: NodeProcess[] = [];
  try {
    // --- docker-compose.yml, with each service's hostname mapped to a loopback address.
    const commands = composeCommands();
    assert.deepEqual([...commands.keys()], SERVICES);
    const hostMap = (arg: string): string => {
      let out = arg;
      for (const s of SERVICES) {
        if (out === `/data/${s}`) return cluster.info(s).dataDir;
        out = out
          .replace(new RegExp(`\\b${s}:11000\\b`, 'g'), cluster.info(s).httpAddr)
          .replace(new RegExp(`\\b${s}:12000\\b`, 'g'), cluster.info(s).raftAddr);
      }
      return out;
    };
    // depends_on: nodew healthy first; the three found the cluster together (-initial-cluster).
    for (const service of SERVICES) {
      const command = commands.get(service)!;
      assert.deepEqual(command.slice(0, 2), ['-id', service]);
      const info = cluster.info(service);
      const args = ['-haddr', info.httpAddr, '-raddr', info.raftAddr, ...command.map(hostMap)];
      procs.push(spawnGraftd(args, TEST_ENV, info.logFile, info));
      if (service === 'nodew') await cluster.waitHealthy(service);
    }
    for (const service of SERVICES) await cluster.waitHealthy(service);
    await cluster.waitForLeader({ among: SERVICES });
    await waitMembers(cluster, 'nodew', 'three voters', (m) => hasVoters(m, SERVICES));

    // --- the client image: graftctl with GRAFTD_ENDPOINTS naming the three services.
    const clientEntrypoint = dockerJson('Dockerfile.client', /ENTRYPOINT\s+(\[.*\])/);
    assert.deepEqual(clientEntrypoint, ['/app/bin/graftctl']);
    const imageEndpoints = /ENV GRAFTD_ENDPOINTS=(\S+)/.exec(readFileSync(joinPath(ROOT, 'Dockerfile.client'), 'utf8'))?.[1] ?? '';
    const endpoints = imageEndpoints.split(',').map(hostMap).join(',');
    assert.equal(endpoints, SERVICES.map((s) => cluster.info(s).httpAddr).join(','));
    const env = { GRAFTD_ENDPOINTS: endpoints };
    const ctl = (args: string[]): Promise<RunResult> => graftctlProcess(args, env);

    await t.test('Dockerfile: entrypoint graftd; the HEALTHCHECK command passes on a ready node and fails on a dead one', async () => {
      assert.deepEqual(dockerJson('Dockerfile', /ENTRYPOINT\s+(\[.*\])/), ['/app/bin/graftd']);
      const health = dockerJson('Dockerfile', /HEALTHCHECK[^\n]*?CMD\s+(\[.*\])/);
      assert.equal(health[0], 'node');
      const argv = [process.execPath, ...health.slice(1)];
      assert.equal(await run(argv, { GRAFTD_HEALTH_URL: `http://${cluster.info('nodee').httpAddr}/readyz` }), 0);
      assert.equal(await run(argv, { GRAFTD_HEALTH_URL: 'http://127.0.0.56:19049/readyz' }), 1);
      // `npm ci --omit=dev` must be enough: every package src/ imports at run time is a dependency.
      const pkg = JSON.parse(readFileSync(joinPath(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
      const dockerignore = readFileSync(joinPath(ROOT, '.dockerignore'), 'utf8');
      for (const needed of ['src', 'bin', 'package.json', 'package-lock.json'])
        assert.doesNotMatch(dockerignore, new RegExp(`^${needed}$`, 'm'));
      // (tsx is not: the images run the compiled dist/ — test/package/dockerfile.test.ts.)
      for (const dep of ['fastify', 'undici', 'commander', 'msgpackr', 'pino', 'prom-client', 'ws'])
        assert.ok(pkg.dependencies[dep], dep);
    });

    await t.test('set, set --file, get (every level), del, and their exit codes', async () => {
      assert.equal(ok(await ctl(['set', 'user', 'kj']), 'set'), 'OK\n');
      const dataFile = joinPath(cluster.root, 'data.json');
      writeFileSync(dataFile, JSON.stringify({ lang: 'ts', 'with space': 'ünï', 'a/b': 'slash' }));
      assert.deepEqual(JSON.parse(ok(await ctl(['--json', 'set', '--file', dataFile]), 'set --file')), { ok: true, keys: 3 });
      assert.equal(ok(await ctl(['get', 'user']), 'get'), 'kj\n');
      for (const level of ['linearizable', 'lease', 'stale']) {
        const r = await graftctl(['--endpoints', endpoints, '--json', 'get', 'a/b', '--level', level]);
        assert.deepEqual(JSON.parse(ok(r, level)), { key: 'a/b', value: 'slash' });
      }
      const missing = await ctl(['get', 'nope']);
      assert.equal(missing.code, 3);
      assert.deepEqual(lines(missing.stderr), ['graftctl: key not found: nope']);
      assert.equal(missing.stdout, '');
      const missingJson = await graftctl(['--endpoints', endpoints, '--json', 'get', 'nope']);
      assert.equal(missingJson.code, 3);
      assert.deepEqual(JSON.parse(missingJson.stdout), { error: 'key not found: nope', code: 'GRAFTD_KEY_NOT_FOUND', exitCode: 3 });
      assert.equal(ok(await ctl(['set', 'temp', 'x']), 'set temp'), 'OK\n');
      assert.equal(ok(await ctl(['del', 'temp']), 'del'), 'OK\n');
      assert.deepEqual(JSON.parse(ok(await graftctl(['--endpoints', endpoints, '--json', 'del', 'temp']), 'del again')), {
        ok: true,
        key: 'temp',
      });
      assert.equal((await graftctl(['--endpoints', endpoints, 'get', 'temp'])).code, 3);
      const tooBig = await graftctl(['--endpoints', endpoints, 'set', 'k', 'x'.repeat(300 * 1024)]);
      assert.equal(tooBig.code, 1);
      assert.match(tooBig.stderr, /^graftctl: .*\n$/);
    });

    await t.test('status: a row per member from its own /status; --json shape', async () => {
      const table = lines(ok(await ctl(['status']), 'status'));
      assert.match(table[0]!, /^ID\s+RAFT ADDR\s+HTTP ADDR\s+ROLE\s+VOTER\s+TERM\s+LEADER\s+COMMIT\s+APPLIED\s+LAG$/);
      assert.equal(table.length, 4);
      for (const s of SERVICES)
        assert.ok(
          table.some((row) => row.startsWith(`${s} `) && row.includes(cluster.info(s).raftAddr)),
          s,
        );
      assert.equal(table.filter((row) => / leader /.test(row)).length, 1);
      const json = JSON.parse(ok(await graftctl(['--endpoints', endpoints, '--json', 'status']), 'status --json')) as {
        leaderId: string;
        members: {
          id: string;
          role: string;
          term: number;
          commitIndex: number;
          appliedIndex: number;
          lag: number;
          error: string;
          voter: boolean;
        }[];
      };
      assert.ok(SERVICES.includes(json.leaderId));
      assert.deepEqual(json.members.map((m) => m.id).sort(), [...SERVICES].sort());
      for (const m of json.members) {
        assert.equal(m.error, '');
        assert.equal(m.voter, true);
        assert.ok(['leader', 'follower'].includes(m.role), m.role);
        assert.ok(Number.isInteger(m.term) && m.term > 0 && Number.isInteger(m.commitIndex) && Number.isInteger(m.lag) && m.lag >= 0);
      }
    });

    await t.test('members, join --learner, remove, transfer-leader', async () => {
      const members = JSON.parse(ok(await ctl(['--json', 'members']), 'members')) as {
        leaderId: string;
        members: { id: string; voter: boolean }[];
      };
      assert.deepEqual(members.members.map((m) => m.id).sort(), [...SERVICES].sort());
      const joined = await ctl(['join', 'replica9', '127.0.0.56:19149', '--learner', '--http-addr', '127.0.0.56:19049']);
      assert.equal(ok(joined, 'join'), 'OK: replica9 joined as learner\n');
      await waitMembers(cluster, 'nodew', 'replica9 listed', (m) => m.some((x) => x.id === 'replica9' && !x.voter));
      const table = lines(ok(await graftctl(['--endpoints', endpoints, 'members']), 'members table'));
      assert.match(table.find((row) => row.startsWith('replica9'))!, /learner/);
      // status with a member that does not answer: the table is printed, exit 1, one line on stderr.
      const partial = await graftctl(['--endpoints', endpoints, 'status']);
      assert.equal(partial.code, 1);
      assert.match(partial.stdout, /replica9 .* unreachable/);
      assert.deepEqual(lines(partial.stderr), ['graftctl: 1 of 4 members did not answer: replica9']);
      const partialJson = await graftctl(['--endpoints', endpoints, '--json', 'status']);
      assert.equal(partialJson.code, 1);
      const rows = (JSON.parse(partialJson.stdout) as { members: { id: string; role: string | null; error: string }[] }).members;
      const replicaRow = rows.find((m) => m.id === 'replica9');
      assert.equal(replicaRow?.role, null, 'one JSON object, with the silent member marked');
      assert.match(replicaRow?.error ?? '', /connection refused/);
      assert.equal(ok(await ctl(['remove', 'replica9']), 'remove'), 'OK: removed replica9\n');
      await waitMembers(cluster, 'nodew', 'replica9 gone', (m) => !m.some((x) => x.id === 'replica9') && hasVoters(m, SERVICES));
      const unknown = await ctl(['remove', 'replica9']);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^graftctl: .+\n$/);

      const leader = await cluster.waitForLeader({ among: SERVICES });
      const target = SERVICES.find((s) => s !== leader)!;
      assert.equal(ok(await ctl(['transfer-leader', target]), 'transfer-leader'), `OK: leader is ${target}\n`);
      assert.equal(await cluster.waitForLeader({ among: SERVICES }), target);
    });

    await t.test('backup, then restore into fresh clusters (graftctl restore + graftd, graftd --restore): identical contents', async () => {
      const client = new GraftdClient({ endpoints: endpoints.split(','), timeoutMs: 10_000 });
      try {
        const pairs: Record<string, string> = {};
        for (let i = 0; i < 500; i++) pairs[`bulk-${i}`] = `v${i}-${'z'.repeat(i % 40)}`;
        await client.set(pairs);
        await client.del('bulk-7');
        const file = joinPath(cluster.root, 'backup.bin');
        const b = await ctl(['--json', 'backup', file]);
        const out = JSON.parse(ok(b, 'backup')) as { ok: boolean; file: string; bytes: number };
        assert.equal(out.file, file);
        assert.equal(out.bytes, readFileSync(file).length);
        // graftctl's backup file: a metadata header, then the server's snapshot bytes.
        const { dataOffset } = await readBackupLayout(file);
        const original = await entriesOf(chunks(readFileSync(file).subarray(dataOffset)));
        assert.equal(original.length, 4 + 500 - 1);
        assert.deepEqual(
          original.find(([k]) => k === 'user'),
          ['user', 'kj'],
        );

        // 1. graftctl restore (local), then plain graftd on the directory.
        const r0 = restored.info('r0');
        const restoreArgs = [
          'restore',
          file,
          '--data-dir',
          r0.dataDir,
          '--id',
          'r0',
          '--raft-addr',
          r0.raftAddr,
          '--http-addr',
          r0.httpAddr,
        ];
        const rest = await graftctlProcess(restoreArgs);
        assert.equal(rest.code, 0, rest.stderr);
        assert.match(rest.stdout, new RegExp(`restored ${original.length} keys`));
        assert.match(rest.stdout, /start it with: graftd -id r0 /);
        // r0 is not a member of the backed-up cluster: allowed (a new cluster, new name), with a note.
        assert.match(rest.stderr, /^graftctl: note: r0 is not one of the backup's members \((?:nodew|nodee|noder)(?:, (?:nodew|nodee|noder)){2}\)/);
        const again = await graftctlProcess(restoreArgs);
        assert.equal(again.code, 0, 'the same restore again is a no-op');
        assert.match(again.stdout, /already restored from this backup/);
        await restored.startNode('r0');
        assert.equal(await restored.waitForLeader({ among: ['r0'] }), 'r0');
        const one = new GraftdClient({ endpoints: [r0.httpAddr], timeoutMs: 10_000 });
        try {
          assert.deepEqual(await entriesOf(await one.backup()), original);
          assert.equal(await one.get('user'), 'kj');
          // Others join the restored cluster and receive the data.
          await restored.startNode('r1', { join: 'r0' });
          await waitMembers(restored, 'r0', 'r1 voter', (m) => hasVoters(m, ['r0', 'r1']));
          const r1Status = await waitFor('r1 caught up', async () => {
            const s = await statusOf(restored, 'r1');
            return s !== undefined && s.keys === original.length ? s : undefined;
          });
          assert.equal(r1Status.keys, original.length);
          // r1's own copy: make it the leader and back it up (GET /snapshot is served by the leader).
          assert.equal(await one.transferLeader('r1'), 'r1');
          assert.equal(await restored.waitForLeader({ among: ['r0', 'r1'] }), 'r1');
          const fromR1 = new GraftdClient({ endpoints: [restored.info('r1').httpAddr], timeoutMs: 10_000 });
          try {
            assert.deepEqual(await entriesOf(await fromR1.backup()), original);
          } finally {
            await fromR1.close();
          }
        } finally {
          await one.close();
        }

        // 2. graftd --restore FILE DATA_DIR seeds and starts in one step.
        await restored.startNode('s0', { args: ['--restore', file] });
        assert.equal(await restored.waitForLeader({ among: ['s0'] }), 's0');
        const s0 = new GraftdClient({ endpoints: [restored.info('s0').httpAddr], timeoutMs: 10_000 });
        try {
          assert.deepEqual(await entriesOf(await s0.backup()), original);
          assert.equal((await statusOf(restored, 's0'))?.members.length, 1);
        } finally {
          await s0.close();
        }
      } finally {
        await client.close();
      }
    });
  } finally {
    for (const proc of procs) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    await cluster.destroy();
    await restored.destroy();
  }
});

test('secure cluster (HTTPS with client certificates, users, cluster secret): graftctl with --cacert/--cert/--key/--user/--token, user and token add, SIGHUP', async (t) => {
  // 127.0.0.58, HTTP 1906x, raft 1916x: three nodes joined with the cluster secret, -http-client-ca (mutual TLS).
  const root = mkdtempSync(joinPath(tmpdir(), 'graftctl-secure-'));
  const ids = ['g1', 'g2', 'g3'];
  const infos = new Map<string, NodeInfo>(
    ids.map((id, i) => [
      id,
      {
        id,
        ip: '127.0.0.58',
        httpAddr: `127.0.0.58:${19061 + i}`,
        raftAddr: `127.0.0.58:${19161 + i}`,
        dataDir: joinPath(root, id),
        logFile: joinPath(root, `${id}.log`),
      },
    ]),
  );
  const info = (id: string): NodeInfo => infos.get(id)!;
  const m = await secureMaterial(joinPath(root, 'secure'), [...ids, 'operator'], ['127.0.0.58']);
  const operator = m.certs.get('operator')!;
  const procs: NodeProcess[] = [];
  const start = (id: string, join?: string): void => {
    const c = m.certs.get(id)!;
    const args = [
      ...['-id', id, '-haddr', info(id).httpAddr, '-raddr', info(id).raftAddr],
      ...['-cluster-secret-file', m.secretFile, '-peer-cert', c.cert, '-peer-key', c.key, '-peer-ca', m.ca],
      ...['-http-cert', c.cert, '-http-key', c.key, '-http-client-ca', m.ca, '-auth-file', m.authFile],
      ...(join === undefined ? [] : ['-join', info(join).httpAddr]),
      info(id).dataDir,
    ];
    procs.push(spawnGraftd(args, TEST_ENV, info(id).logFile, info(id)));
  };
  const endpoints = ids.map((id) => info(id).httpAddr).join(',');
  const tls = { ca: readFileSync(m.ca, 'utf8'), cert: readFileSync(operator.cert, 'utf8'), key: readFileSync(operator.key, 'utf8') };
  const admin = new GraftdClient({ endpoints: endpoints.split(','), timeoutMs: 5000, tls, auth: { user: 'admin', password: m.password } });
  const logs = (): string => ids.map((id) => `--- ${id} ---\n${readFileSync(info(id).logFile, 'utf8').slice(-2000)}`).join('\n');
  try {
    start('g1');
    await waitFor(
      'g1 to lead',
      async () => ((await admin.status(info('g1').httpAddr).catch(() => undefined))?.role === 'leader' ? true : undefined),
      30_000,
    );
    start('g2', 'g1');
    start('g3', 'g1');
    await waitFor('3 voters', async () => ((await admin.members()).filter((x) => x.voter).length === 3 ? true : undefined), 40_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${logs()}`);
      },
    );

    // Everything from the environment, as an operator's shell profile would hold it.
    const env: Record<string, string> = {
      GRAFTD_ENDPOINTS: endpoints,
      GRAFTD_CACERT: m.ca,
      GRAFTD_CERT: operator.cert,
      GRAFTD_KEY: operator.key,
      GRAFTD_USER: 'admin',
      GRAFTCTL_PASSWORD: m.password,
    };
    const ctl = (args: string[], overrides: Record<string, string | undefined> = {}): Promise<RunResult> => {
      const merged: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...env, ...overrides })) if (v !== undefined) merged[k] = v;
      return graftctlProcess(args, merged);
    };
    const fails = (r: RunResult, pattern: RegExp, what: string): void => {
      assert.equal(r.code, 1, `${what}: exit ${r.code}: ${r.stderr}`);
      assert.equal(lines(r.stderr).length, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, pattern, what);
    };

    await t.test('GRAFTD_* environment: set, get, status (every member over https with the client certificate)', async () => {
      assert.equal(ok(await ctl(['set', 'secure-key', 'yes']), 'set'), 'OK\n');
      assert.equal(ok(await ctl(['get', 'secure-key']), 'get'), 'yes\n');
      const table = lines(ok(await ctl(['status']), 'status'));
      assert.equal(table.length, 4, table.join('\n'));
      assert.equal(table.filter((row) => / leader /.test(row)).length, 1);
    });

    await t.test('the same with flags and an https:// endpoint (a follower: the client follows the leader over https)', async () => {
      const leader = (await admin.status()).leaderId;
      const follower = ids.find((id) => id !== leader)!;
      const flags = ['--endpoints', `https://${info(follower).httpAddr}`, '--cacert', m.ca, '--cert', operator.cert, '--key', operator.key];
      const r = await graftctlProcess([...flags, '--user', 'admin', 'set', 'via-flags', '1'], { GRAFTCTL_PASSWORD: m.password });
      assert.equal(ok(r, 'set with flags'), 'OK\n');
      assert.equal(
        ok(await graftctlProcess([...flags, '--user', 'admin', '--json', 'members'], { GRAFTD_PASSWORD: m.password }), 'members').includes(
          '"g3"',
        ),
        true,
      );
    });

    await t.test('refusals are one line, exit 1: no client certificate, wrong CA, no credentials, wrong password', async () => {
      fails(
        await ctl(['get', 'secure-key'], { GRAFTD_CERT: undefined, GRAFTD_KEY: undefined }),
        /TLS: the server requires a client certificate/,
        'no cert',
      );
      fails(
        await ctl(['get', 'secure-key'], { GRAFTD_CACERT: m.certs.get('g1')!.cert }),
        /TLS: the server's certificate (is not signed by a CA we trust|chain ends in a CA we do not trust)/,
        'wrong CA',
      );
      fails(await ctl(['get', 'secure-key'], { GRAFTD_USER: undefined }), /the cluster requires credentials/, 'no credentials');
      fails(await ctl(['get', 'secure-key'], { GRAFTCTL_PASSWORD: 'wrong' }), /the credentials were refused/, 'wrong password');
      const json = await ctl(['--json', 'set', 'k', 'v'], { GRAFTD_USER: undefined });
      assert.equal((JSON.parse(json.stdout) as { code: string }).code, 'GRAFTD_UNAUTHORIZED');
    });

    await t.test('user add and token add edit the auth file offline; after SIGHUP the nodes accept them with their roles', async () => {
      const added = await graftctlProcess(['user', 'add', 'reader', '--role', 'read', '--auth-file', m.authFile], {
        GRAFTCTL_PASSWORD: 'reader-pw',
      });
      assert.match(ok(added, 'user add'), /OK: user reader \(read\) added .*SIGHUP/);
      const made = await graftctlProcess(['token', 'add', 'ci', '--role', 'write', '--auth-file', m.authFile]);
      assert.equal(made.code, 0, made.stderr);
      // The token alone on stdout (for TOKEN=$(...)); the note goes to stderr.
      assert.match(made.stderr, /^graftctl: token ci \(write\) saved in .* shown only this once; running nodes load it on SIGHUP/);
      const token = made.stdout.trim();
      assert.match(token, /^gtd_\S+$/);
      const listed = lines(ok(await graftctlProcess(['user', 'list', '--auth-file', m.authFile]), 'user list'));
      assert.deepEqual(listed.slice(1).sort(), ['admin   admin  user', 'ci      write  token', 'reader  read   user']);
      for (const proc of procs) proc.child.kill('SIGHUP');
      const asReader = { GRAFTD_USER: 'reader', GRAFTCTL_PASSWORD: 'reader-pw' };
      await waitFor('the reloaded user on every node', async () => {
        for (const id of ids) {
          const r = await ctl(
            ['--endpoints', info(id).httpAddr, '--retries', '0', '--json', 'get', 'secure-key', '--level', 'stale'],
            asReader,
          );
          if (r.code !== 0) return undefined;
        }
        return true;
      });
      fails(await ctl(['set', 'secure-key', 'no'], asReader), /role does not allow this/, 'read role writes');
      const asToken = { GRAFTD_USER: undefined, GRAFTCTL_PASSWORD: undefined, GRAFTD_TOKEN: token };
      assert.equal(ok(await ctl(['set', 'by-token', 'ok'], asToken), 'token set'), 'OK\n');
      assert.equal(ok(await ctl(['get', 'by-token'], asReader), 'reader get'), 'ok\n');
    });
  } finally {
    await admin.close();
    for (const proc of procs) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    rmSync(root, { recursive: true, force: true });
  }
});
