/**
 * GET /metrics: Prometheus text with request counts and latency by route pattern and status,
 * and raft gauges read from node.status(); one registry per server.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeNode } from './fake-node.ts';
import { makeServer } from './helpers.ts';

test('request counters are labelled by method, route pattern and status', async () => {
  const { app, node } = await makeServer();
  node.data.set('a', '1');
  await app.inject({ url: '/key/a' });
  await app.inject({ url: '/key/a' });
  await app.inject({ url: '/key/zzz' });
  await app.inject({ method: 'POST', url: '/key', payload: '{"b":"2"}' });
  await app.inject({ url: '/no/such/path' });
  const res = await app.inject({ url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  const text = res.body;
  assert.match(text, /graftd_http_requests_total\{method="GET",route="\/key\/\*",status="200",node="node0"\} 2/);
  assert.match(text, /graftd_http_requests_total\{method="GET",route="\/key\/\*",status="404",node="node0"\} 1/);
  assert.match(text, /graftd_http_requests_total\{method="POST",route="\/key",status="200",node="node0"\} 1/);
  assert.match(text, /graftd_http_requests_total\{method="GET",route="unmatched",status="404",node="node0"\} 1/);
  const count = text
    .split('\n')
    .find((l) => l.startsWith('graftd_http_request_duration_seconds_count') && l.includes('route="/key/*"') && l.includes('status="200"'));
  assert.match(String(count), / 2$/);
  assert.doesNotMatch(text, /route="\/key\/a"/, 'raw paths must not become labels');
  await app.close();
});

test('raft gauges follow node.status(), and each server has its own registry', async () => {
  const leader = await makeServer(new FakeNode({ id: 'node0' }));
  const follower = await makeServer(new FakeNode({ id: 'node1', role: 'follower', leaderId: 'node0' }));
  leader.node.term = 7;
  await leader.app.inject({ method: 'POST', url: '/key', payload: '{"a":"1","b":"2"}' });
  const lt = (await leader.app.inject({ url: '/metrics' })).body;
  assert.match(lt, /graftd_raft_term\{node="node0"\} 7/);
  assert.match(lt, /graftd_raft_commit_index\{node="node0"\} 1/);
  assert.match(lt, /graftd_raft_applied_index\{node="node0"\} 1/);
  assert.match(lt, /graftd_keys\{node="node0"\} 2/);
  assert.match(lt, /graftd_raft_role\{role="leader",node="node0"\} 1/);
  assert.match(lt, /graftd_raft_role\{role="follower",node="node0"\} 0/);
  const ft = (await follower.app.inject({ url: '/metrics' })).body;
  assert.match(ft, /graftd_raft_role\{role="follower",node="node1"\} 1/);
  assert.match(ft, /graftd_raft_term\{node="node1"\} 3/);
  assert.doesNotMatch(ft, /node="node0"/);
  assert.doesNotMatch(ft, /route="\/key"/, 'the follower served no POST /key');
  await leader.app.close();
  await follower.app.close();
});

test('process metrics are exported when enabled', async () => {
  const { app } = await makeServer(undefined, { processMetrics: true });
  const text = (await app.inject({ url: '/metrics' })).body;
  assert.match(text, /^process_cpu_user_seconds_total\{node="node0"\} /m);
  assert.match(text, /^nodejs_eventloop_lag_seconds\{node="node0"\} /m);
  assert.doesNotMatch(text, /graftd_process_|graftd_nodejs_/, 'the standard names, without a prefix');
  await app.close();
});

test('security counters of the node are exported (peer handshakes, violations, refusals, core violations by reason)', async () => {
  class CountingNode extends FakeNode {
    securityCounters() {
      return {
        peerHandshakeFailures: 3,
        peerProtocolViolations: 2,
        peerRefusedConnections: 5,
        raftViolations: { 'second-leader': 1, 'term-out-of-range': 4 },
      };
    }
  }
  const { app } = await makeServer(new CountingNode({ id: 'node0' }));
  const text = (await app.inject({ url: '/metrics' })).body;
  assert.match(text, /graftd_peer_handshake_failures_total\{node="node0"\} 3/);
  assert.match(text, /graftd_peer_protocol_violations_total\{node="node0"\} 2/);
  assert.match(text, /graftd_peer_refused_connections_total\{node="node0"\} 5/);
  assert.match(text, /graftd_raft_protocol_violations_total\{reason="second-leader",node="node0"\} 1/);
  assert.match(text, /graftd_raft_protocol_violations_total\{reason="term-out-of-range",node="node0"\} 4/);
  // Scraped twice: counters are set from the node, not added up.
  assert.match((await app.inject({ url: '/metrics' })).body, /graftd_peer_handshake_failures_total\{node="node0"\} 3/);
  await app.close();
});
