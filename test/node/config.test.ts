/** Env parsing of the runtime's knobs and the command line's flag handling. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getLocalIp } from '../../src/cli/local-ip.ts';
import { normalizeArgv, parseGraftdArgs } from '../../src/cli/flags.ts';
import { DEFAULT_RUNTIME_CONFIG, electionTicks, parseRuntimeConfig, runtimeConfigFrom } from '../../src/node/config.ts';
import { createRaftNode } from '../../src/node/raft-node.ts';

test('env: defaults, the original names, units', () => {
  assert.deepEqual(parseRuntimeConfig({}), DEFAULT_RUNTIME_CONFIG);
  const c = parseRuntimeConfig({
    HEARTBEAT_TIMEOUT: '50',
    ELECTION_TIMEOUT: '500',
    SNAPSHOT_INTERVAL: '2',
    SNAPSHOT_THRESHOLD: '10',
    TRAILING_LOGS: '0',
    REQUEST_TIMEOUT: '300',
    LOG_CACHE_BYTES: '1048576',
  });
  assert.equal(c.heartbeatTimeoutMs, 50);
  assert.equal(electionTicks(c), 10);
  assert.equal(c.snapshotIntervalMs, 2000);
  assert.equal(c.snapshotThreshold, 10);
  assert.equal(c.trailingLogs, 0);
  assert.equal(c.requestTimeoutMs, 300);
  assert.equal(c.logCacheBytes, 1_048_576);
  assert.equal(DEFAULT_RUNTIME_CONFIG.logCacheBytes, 16 * 1024 * 1024);
});

test('env: invalid values are one readable error', () => {
  assert.throws(() => parseRuntimeConfig({ ELECTION_TIMEOUT: 'soon' }), /ELECTION_TIMEOUT must be a whole number/);
  assert.throws(() => parseRuntimeConfig({ HEARTBEAT_TIMEOUT: '600', ELECTION_TIMEOUT: '1000' }), /at least twice HEARTBEAT_TIMEOUT/);
  assert.throws(() => parseRuntimeConfig({ SNAPSHOT_THRESHOLD: '0' }), /SNAPSHOT_THRESHOLD must be between/);
  assert.throws(() => parseRuntimeConfig({ LEADER_LEASE_TIMEOUT: '5000' }), /must not exceed ELECTION_TIMEOUT/);
  assert.throws(() => parseRuntimeConfig({ GRAFTD_TEST_FAULT: 'everything' }), /GRAFTD_TEST_FAULT/);
  assert.throws(() => parseRuntimeConfig({ LOG_CACHE_BYTES: '16M' }), /LOG_CACHE_BYTES must be/);
  assert.equal(parseRuntimeConfig({ GRAFTD_TEST_FAULT: 'no-check-quorum' }).testFault, 'no-check-quorum');
});

test('createRaftNode config: the same rules as the environment (validateRuntimeConfig), named by field', async () => {
  assert.deepEqual(runtimeConfigFrom(), DEFAULT_RUNTIME_CONFIG);
  // The lease timeout defaults to at most the election timeout, as with the environment.
  assert.equal(runtimeConfigFrom({ heartbeatTimeoutMs: 20, electionTimeoutMs: 150 }).leaderLeaseTimeoutMs, 150);
  assert.throws(
    () => runtimeConfigFrom({ heartbeatTimeoutMs: 600 }),
    /config.electionTimeoutMs \(1000 ms\) must be at least twice config.heartbeatTimeoutMs/,
  );
  assert.throws(
    () => runtimeConfigFrom({ leaderLeaseTimeoutMs: 5000 }),
    /config.leaderLeaseTimeoutMs .* must not exceed config.electionTimeoutMs/,
  );
  assert.throws(() => runtimeConfigFrom({ snapshotThreshold: 0 }), /config.snapshotThreshold must be a whole number ≥ 1/);
  assert.throws(() => runtimeConfigFrom({ requestTimeoutMs: 1.5 }), /config.requestTimeoutMs must be a whole number/);
  assert.throws(() => runtimeConfigFrom({ maxClockDrift: 0.5 }), /config.maxClockDrift/);
  // Refused before the data directory is touched.
  await assert.rejects(
    createRaftNode({
      id: 'x',
      dataDir: '/nonexistent/graftd-config-test',
      raftAddr: '127.0.0.1:1',
      stateMachine: { apply: () => undefined, snapshot: () => (async function* () {})(), restore: async () => ({ install: () => {} }) },
      config: { electionTimeoutMs: 100 },
    }),
    (e: Error & { code?: string }) => e.code === 'GRAFTD_BAD_CONFIG' && /at least twice/.test(e.message),
  );
});

test('argv: single-dash long flags of the original and --long forms are the same', () => {
  assert.deepEqual(normalizeArgv(['-id', 'n1', '-haddr=1.2.3.4:1', '--raft-addr', 'x:2', '-join', 'y:3', 'dir']), [
    '--id',
    'n1',
    '--haddr',
    '1.2.3.4:1',
    '--raddr',
    'x:2',
    '--join',
    'y:3',
    'dir',
  ]);
  assert.deepEqual(normalizeArgv(['--unknown', '-x']), ['--unknown', '-x']);
});

test('flags: the original command line parses; defaults follow the original', () => {
  const r = parseGraftdArgs(['-id', 'nodee', '-join', 'nodew:11000', '/data/nodee'], () => '10.1.2.3');
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  assert.equal(r.args.id, 'nodee');
  assert.equal(r.args.join, 'nodew:11000');
  assert.equal(r.args.httpListenAddr, '0.0.0.0:11000');
  assert.equal(r.args.httpAddr, '10.1.2.3:11000');
  assert.equal(r.args.raftListenAddr, '10.1.2.3:12000');
  assert.equal(r.args.raftAddr, '10.1.2.3:12000');
  assert.equal(r.args.dataDir, '/data/nodee');
});

test('flags: a wildcard raft address is advertised as the local IP unless --advertise is given', () => {
  const a = parseGraftdArgs(['-id', 'n', '-raddr', '0.0.0.0:12000', 'd'], () => '10.0.0.5');
  assert.ok(a.kind === 'run' && a.args.raftAddr === '10.0.0.5:12000' && a.args.raftListenAddr === '0.0.0.0:12000');
  const b = parseGraftdArgs(
    ['-id', 'n', '-raddr', '0.0.0.0:12000', '--advertise', 'node1:12000', '-hadv', 'node1:11000', 'd'],
    () => '10.0.0.5',
  );
  assert.ok(b.kind === 'run' && b.args.raftAddr === 'node1:12000' && b.args.httpAddr === 'node1:11000');
});

test('flags: errors are one line with exit 1; no data dir is the original message', () => {
  assert.deepEqual(
    parseGraftdArgs(['-id', 'n'], () => '1.1.1.1'),
    { kind: 'exit', text: 'No Raft storage directory specified', exitCode: 1 },
  );
  const bad = parseGraftdArgs(['-haddr', 'nope', 'd'], () => '1.1.1.1');
  assert.ok(bad.kind === 'exit' && bad.exitCode === 1 && /HTTP address/.test(bad.text) && !bad.text.includes('\n'));
  const unknown = parseGraftdArgs(['--bogus', 'd'], () => '1.1.1.1');
  assert.ok(unknown.kind === 'exit' && unknown.exitCode === 1);
  const help = parseGraftdArgs(['-help'], () => '1.1.1.1');
  assert.ok(help.kind === 'exit' && help.exitCode === 0 && help.text.includes('--join'));
});

test('getLocalIp picks the first non-loopback IPv4 address', () => {
  const v4 = (address: string, internal: boolean) => ({ address, internal, family: 'IPv4' as const, netmask: '', mac: '', cidr: null });
  const v6 = { address: 'fe80::1', internal: false, family: 'IPv6' as const, netmask: '', mac: '', cidr: null, scopeid: 0 };
  assert.equal(
    getLocalIp({ lo: [v4('127.0.0.1', true)], eth0: [v6, v4('192.168.0.7', false)], eth1: [v4('10.0.0.1', false)] }),
    '192.168.0.7',
  );
  assert.equal(getLocalIp({ lo: [v4('127.0.0.1', true)] }), '127.0.0.1');
});
