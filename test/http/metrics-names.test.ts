/**
 * /metrics naming and the operational metrics: standard process_* and nodejs_* names, counters (and
 * only counters) ending in _total, latency buckets up to 30 s; the new metrics wired to a real
 * one-node graftd (WAL fsyncs observed, data dir size, leader changes, build info); and every
 * metric the Grafana dashboard (docs/grafana-dashboard.json) queries is exported.
 * A real node on 127.0.0.147.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createHttpServer } from '../../src/http/index.ts';
import { recordingLog, silentLog } from '../../src/log.ts';
import { DEFAULT_RUNTIME_CONFIG } from '../../src/node/config.ts';
import { openNode } from '../../src/node/open.ts';
import type { OpsCounters, PeerLinkView, SecurityCounters } from '../../src/node/api.ts';
import { VERSION } from '../../src/version.ts';
import { FakeNode } from './fake-node.ts';
import { makeServer } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'graftd-metrics-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A fake node that reports everything the real one does, with fixed numbers. */
class FullNode extends FakeNode {
  readonly #sync = new Set<(s: number) => void>();
  opsCounters(): OpsCounters {
    return { leaderChanges: 3, proposalsFailed: 2 };
  }
  peerLinks(): Record<string, PeerLinkView> {
    return { node1: { up: true, queuedBytes: 0 }, node2: { up: false, queuedBytes: 4096 } };
  }
  async dataDirBytes(): Promise<number> {
    return 123_456;
  }
  onWalSync(fn: (s: number) => void): () => void {
    this.#sync.add(fn);
    return () => this.#sync.delete(fn);
  }
  synced(seconds: number): void {
    for (const fn of this.#sync) fn(seconds);
  }
  securityCounters(): SecurityCounters {
    return { peerHandshakeFailures: 1, peerProtocolViolations: 0, peerRefusedConnections: 0, peerVersionMismatches: 1, raftViolations: {} };
  }
  diskFullEvents(): number {
    return 0;
  }
}

/** `# TYPE name kind` lines of a Prometheus text answer. */
function types(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** Names of the series present (sample lines), e.g. graftd_raft_term, graftd_x_bucket. */
function seriesNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    out.add(line.split(/[{ ]/, 1)[0]!);
  }
  return out;
}

test('naming: counters and only counters end in _total; process_* and nodejs_* unprefixed; latency buckets reach 30 s', async () => {
  const node = new FullNode();
  const { app } = await makeServer(node, { processMetrics: true });
  try {
    await app.inject({ url: '/key/a' });
    const text = (await app.inject({ url: '/metrics' })).body;
    const t = types(text);
    assert.ok(t.size > 30);
    for (const [name, kind] of t) {
      if (kind === 'counter') assert.match(name, /_total$/, `counter ${name}`);
      else assert.doesNotMatch(name, /_total$/, `${kind} ${name} must not end in _total`);
      assert.match(name, /^(graftd|process|nodejs)_/, name);
    }
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      assert.ok(t.has(name), name);
    assert.ok(![...t.keys()].some((n) => n.startsWith('graftd_process_') || n.startsWith('graftd_nodejs_')));
    assert.match(text, /graftd_http_request_duration_seconds_bucket\{le="30",node="node0",method="GET",route="\/key\/\*",status="404"\} 1/);
    assert.match(text, /graftd_http_request_duration_seconds_bucket\{le="15",/, 'a bucket above the forward timeout (12 s)');
  } finally {
    await app.close();
  }
});

test('the operational metrics as the node reports them', async () => {
  const node = new FullNode();
  const { app } = await makeServer(node);
  try {
    node.synced(0.002);
    node.synced(0.3);
    const text = (await app.inject({ url: '/metrics' })).body;
    assert.match(
      text,
      new RegExp(
        `^graftd_build_info\\{version="${VERSION.replace(/\./g, '\\.')}",nodejs="${process.versions.node}",node="node0"\\} 1$`,
        'm',
      ),
    );
    assert.match(text, /^graftd_leader_changes_total\{node="node0"\} 3$/m);
    assert.match(text, /^graftd_proposals_failed_total\{node="node0"\} 2$/m);
    assert.match(text, /^graftd_peer_up\{peer="node1",node="node0"\} 1$/m);
    assert.match(text, /^graftd_peer_up\{peer="node2",node="node0"\} 0$/m);
    assert.match(text, /^graftd_peer_send_queue_bytes\{peer="node2",node="node0"\} 4096$/m);
    assert.match(text, /^graftd_data_dir_bytes\{node="node0"\} 123456$/m);
    assert.match(text, /^graftd_wal_fsync_duration_seconds_count\{node="node0"\} 2$/m);
    assert.match(text, /^graftd_wal_fsync_duration_seconds_bucket\{le="0\.0025",node="node0"\} 1$/m);
    assert.match(text, /^graftd_peer_version_mismatches_total\{node="node0"\} 1$/m);
  } finally {
    await app.close();
  }
  node.synced(0.1); // after close: no observer left, nothing throws
});

test('every metric the Grafana dashboard queries is exported', async () => {
  const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { query: { query: string } }[] };
  };
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.templating.list.map((v) => v.query.query),
  ];
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(?:graftd|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0])));
  assert.ok(used.size >= 20, `the dashboard uses ${used.size} metrics`);
  const node = new FullNode();
  const { app } = await makeServer(node, { processMetrics: true });
  try {
    node.synced(0.001);
    await app.inject({ url: '/key/a' });
    await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' });
    const text = (await app.inject({ url: '/metrics' })).body;
    // Present with samples, or declared (a labelled counter such as graftd_http_forwarded_total has no sample before its first event).
    const names = new Set([...seriesNames(text), ...types(text).keys()]);
    const missing = [...used].filter((n) => !names.has(n));
    assert.deepEqual(missing, [], 'metrics the dashboard queries but /metrics does not export');
  } finally {
    await app.close();
  }
});

test('a real one-node graftd: WAL fsyncs observed, data dir size, one leader change, build info; the role change logged with its reason', async () => {
  const log = recordingLog();
  const addr = '127.0.0.147:16147';
  const node = await openNode({
    id: 'm0',
    dataDir: join(root, 'm0'),
    raftListenAddr: addr,
    raftAddr: addr,
    httpAddr: '127.0.0.147:15147',
    config: { ...DEFAULT_RUNTIME_CONFIG, heartbeatTimeoutMs: 10, electionTimeoutMs: 60 },
    log,
    ifEmpty: 'bootstrap',
  });
  await node.start();
  const app = await createHttpServer({ node, log: silentLog, processMetrics: false });
  try {
    const deadline = Date.now() + 20_000;
    while (node.status().role !== 'leader' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 5; i++) await node.set({ [`k${i}`]: 'v' });
    const text = (await app.inject({ url: '/metrics' })).body;
    const value = (name: string): number => Number(new RegExp(`^${name}\\{node="m0"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    assert.ok(value('graftd_wal_fsync_duration_seconds_count') >= 5, 'each write waited for an fsync');
    assert.ok(value('graftd_wal_fsync_duration_seconds_sum') > 0);
    assert.ok(value('graftd_data_dir_bytes') > 0);
    assert.equal(value('graftd_leader_changes_total'), 1);
    assert.equal(value('graftd_proposals_failed_total'), 0);
    assert.match(text, /^graftd_build_info\{version="[^"]+",nodejs="[^"]+",node="m0"\} 1$/m);
    const became = log.records.find((r) => r.level === 'info' && r.msg.startsWith('became leader: '));
    assert.ok(became !== undefined, 'the role change is logged');
    assert.match(became.msg, /^became leader: won the election \(1 of 1 votes\)|^became leader: won the election \(only voter\)/);
    assert.equal((became.obj as { previous?: string }).previous, 'follower');
  } finally {
    await app.close();
    await node.close();
  }
});
