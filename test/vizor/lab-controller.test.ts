// The lab without processes or a browser: the controller's actions against fake processes and a
// fake HTTP, the supervisor endpoint (token, loopback), the nodes' relay routes (absent unless
// lab mode, admin-only with an auth file, loopback only), request validation and the iptables
// rules the network faults would install.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { GraftdError } from '../../src/errors.ts';
import { type LabHttp, type LabProcesses, LabController } from '../../src/vizor/lab-controller.ts';
import { labRuleArgs, labRules, probeLabFirewall } from '../../src/vizor/lab-firewall.ts';
import { labFromEnv } from '../../src/vizor/lab-proxy.ts';
import { isLoopbackUrl, LAB_TOKEN_HEADER, type ProcessState, parseLabRequest } from '../../src/vizor/lab-protocol.ts';
import { startLabServer } from '../../src/vizor/lab-server.ts';
import { vizorPlugin } from '../../src/vizor/plugin.ts';
import { FakeNode } from '../http/fake-node.ts';
import { assertError, makeServer } from '../http/helpers.ts';
import { makeAuthFixture, security } from '../http/security-helpers.ts';

const NODES = ['a', 'b', 'c'].map((id, i) => ({ id, ip: `127.0.0.22${i}`, httpAddr: `127.0.0.22${i}:1`, raftAddr: `127.0.0.22${i}:2` }));

function fakes(leaderId = 'a'): { processes: LabProcesses; http: LabHttp; calls: string[]; signals: string[] } {
  const states = new Map<string, ProcessState>(NODES.map((n) => [n.id, 'running']));
  const calls: string[] = [];
  const signals: string[] = [];
  return {
    calls,
    signals,
    processes: {
      state: (id) => states.get(id)!,
      signal: (id, sig) => {
        signals.push(`${sig} ${id}`);
        states.set(id, sig === 'SIGSTOP' ? 'stopped' : sig === 'SIGCONT' ? 'running' : 'dead');
      },
      restart: async (id) => {
        signals.push(`restart ${id}`);
        states.set(id, 'running');
      },
    },
    http: async (addr, method, path, body) => {
      calls.push(`${method} ${addr}${path}${body === undefined ? '' : ` ${body}`}`);
      const id = NODES.find((n) => n.httpAddr === addr)!.id;
      if (path === '/status')
        return { status: 200, text: JSON.stringify({ role: id === leaderId ? 'leader' : 'follower', leaderId, term: 7 }) };
      if (path === '/transfer-leader') return { status: 200, text: JSON.stringify({ leader: body === '{}' ? 'b' : JSON.parse(body!).id }) };
      return { status: 200, text: '{}' };
    },
  };
}

const noNet = { available: false, reason: 'isolate and slow link need root and iptables: not running as root' };

test('stop, resume, kill, restart: the right signals, idempotent, logged', async () => {
  const f = fakes();
  const lab = new LabController({
    nodes: NODES,
    processes: f.processes,
    http: f.http,
    electionTimeoutMs: 500,
    heartbeatMs: 50,
    network: noNet,
  });
  assert.equal((await lab.act({ action: 'stop', node: 'b' })).changed, true);
  assert.equal((await lab.act({ action: 'stop', node: 'b' })).changed, false);
  assert.equal(lab.state().nodes.find((n) => n.id === 'b')?.process, 'stopped');
  await lab.act({ action: 'resume', node: 'b' });
  await lab.act({ action: 'kill', node: 'c' });
  assert.equal((await lab.act({ action: 'kill', node: 'c' })).changed, false);
  await lab.act({ action: 'restart', node: 'c' });
  assert.deepEqual(f.signals, ['SIGSTOP b', 'SIGCONT b', 'SIGKILL c', 'restart c']);
  assert.equal(lab.state().log.length, 6);
  await assert.rejects(lab.act({ action: 'stop', node: 'zz' }), (e: GraftdError) => e.code === 'GRAFTD_UNKNOWN_MEMBER');
  assert.equal(lab.state().log.at(-1)?.ok, false);
});

test('time out now: a follower is named to the leader; the leader hands over to the best follower', async () => {
  const f = fakes('a');
  const lab = new LabController({
    nodes: NODES,
    processes: f.processes,
    http: f.http,
    electionTimeoutMs: 500,
    heartbeatMs: 50,
    network: noNet,
  });
  const r = await lab.act({ action: 'timeout', node: 'c' });
  assert.match(r.message, /c timed out \(TimeoutNow from a\) and campaigned for term 8/);
  assert.ok(f.calls.includes('POST 127.0.0.220:1/transfer-leader {"id":"c"}'), f.calls.join('\n'));
  const self = await lab.act({ action: 'timeout', node: 'a' });
  assert.match(self.message, /a \(leader\) timed out: b got TimeoutNow and won term 8/);
  assert.ok(f.calls.includes('POST 127.0.0.220:1/transfer-leader {}'));
  f.processes.signal('b', 'SIGSTOP');
  await assert.rejects(lab.act({ action: 'timeout', node: 'b' }), /b is stopped: only a running node can time out/);
});

test('isolate / slow / heal without root and iptables: a clear refusal, nothing else changes', async () => {
  const f = fakes();
  const lab = new LabController({
    nodes: NODES,
    processes: f.processes,
    http: f.http,
    electionTimeoutMs: 500,
    heartbeatMs: 50,
    network: noNet,
  });
  for (const action of ['isolate', 'slow', 'heal'] as const) {
    await assert.rejects(
      lab.act({ action, node: 'b' }),
      (e: GraftdError) => e.code === 'GRAFTD_UNAVAILABLE' && /needs? root and iptables/.test(e.message),
    );
  }
  assert.equal(lab.state().network.available, false);
  assert.match(lab.state().network.reason, /root and iptables/);
});

test('client load: N writes/s to the running nodes, off again', async () => {
  const f = fakes();
  const lab = new LabController({
    nodes: NODES,
    processes: f.processes,
    http: f.http,
    electionTimeoutMs: 500,
    heartbeatMs: 50,
    network: noNet,
  });
  f.processes.signal('c', 'SIGKILL');
  await lab.act({ action: 'load', rate: 100 });
  await new Promise((r) => setTimeout(r, 600));
  await lab.act({ action: 'load', rate: 0 });
  const writes = f.calls.filter((c) => c.startsWith('POST') && c.includes('/key '));
  assert.ok(writes.length >= 30 && writes.length <= 80, `${writes.length} writes in ~0.6 s at 100/s`);
  assert.ok(
    writes.every((w) => !w.includes('127.0.0.222')),
    'never to the dead node',
  );
  assert.equal(lab.state().load.rate, 0);
});

test('request validation, supervisor URL and the iptables rules', () => {
  assert.deepEqual(parseLabRequest({ action: 'slow', node: 'n1', loss: 0.2 }), { action: 'slow', node: 'n1', loss: 0.2 });
  assert.deepEqual(parseLabRequest({ action: 'load', rate: 20 }), { action: 'load', rate: 20 });
  for (const bad of [
    null,
    [],
    { action: 'rm -rf' },
    { action: 'stop' },
    { action: 'stop', node: '../x' },
    { action: 'load', rate: 1e6 },
    { action: 'stop', node: 'a', loss: 0.5 },
  ])
    assert.throws(
      () => parseLabRequest(bad),
      (e: GraftdError) => e.code === 'GRAFTD_INVALID_BODY',
    );
  assert.ok(isLoopbackUrl('http://127.0.0.1:4000/'));
  for (const u of ['http://10.0.0.1:4000/', 'https://127.0.0.1:4000/', 'http://127.0.0.1:4000/x', 'http://localhost:4000/'])
    assert.equal(isLoopbackUrl(u), false, u);
  assert.equal(labFromEnv({}), undefined, 'lab mode is off by default');
  assert.throws(() => labFromEnv({ GRAFTD_VIZOR_LAB_URL: 'http://10.1.1.1:9/', GRAFTD_VIZOR_LAB_TOKEN: 'x'.repeat(20) }), /loopback/);
  assert.deepEqual(labRuleArgs('127.0.0.2', '127.0.0.3', 0.3), [
    '-s',
    '127.0.0.2',
    '-d',
    '127.0.0.3',
    '-m',
    'statistic',
    '--mode',
    'random',
    '--probability',
    '0.3000',
    '-m',
    'comment',
    '--comment',
    'graftd-lab',
    '-j',
    'DROP',
  ]);
  const rules = labRules(['127.0.0.2', '127.0.0.3', '127.0.0.4'], new Map([['127.0.0.3', { kind: 'isolated' as const }]]));
  assert.equal(rules.length, 4, 'both directions to each other node');
  assert.ok(rules.every((r) => r.includes('graftd-lab') && !r.includes('statistic')));
  assert.equal(probeLabFirewall(['127.0.0.1', '127.0.0.1', '127.0.0.1']).available, false);
});

const servers: { close(): Promise<void> | void }[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

test('the nodes relay /ui/lab/* to the supervisor: absent unless lab mode, admin-only with users, loopback callers only, token checked', async () => {
  const f = fakes();
  const lab = new LabController({
    nodes: NODES,
    processes: f.processes,
    http: f.http,
    electionTimeoutMs: 500,
    heartbeatMs: 50,
    network: noNet,
  });
  const token = 't'.repeat(32);
  const { url, server } = await startLabServer(lab, token);
  servers.push({ close: () => new Promise<void>((r) => server.close(() => r())) });

  const plain = await makeServer(new FakeNode(), { plugins: [vizorPlugin(new FakeNode(), { lab: null })] });
  assertError(await plain.app.inject({ url: '/ui/lab/state' }), 404, 'GRAFTD_ROUTE_NOT_FOUND');
  await plain.app.close();

  const fx = await makeAuthFixture();
  const node = new FakeNode();
  const { app } = await makeServer(node, {
    security: security({ authFile: fx.file }),
    plugins: [vizorPlugin(node, { lab: { url, token } })],
  });
  assertError(await app.inject({ url: '/ui/lab/state' }), 401, 'GRAFTD_UNAUTHORIZED');
  assertError(await app.inject({ url: '/ui/lab/state', headers: { authorization: fx.basic.write } }), 403, 'GRAFTD_FORBIDDEN');
  const ok = await app.inject({ url: '/ui/lab/state', headers: { authorization: fx.basic.admin } });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().lab, true);
  const stop = await app.inject({
    method: 'POST',
    url: '/ui/lab/action',
    headers: { authorization: fx.basic.admin, 'content-type': 'application/json' },
    payload: { action: 'stop', node: 'b' },
  });
  assert.equal(stop.statusCode, 200, stop.body);
  assert.deepEqual(f.signals, ['SIGSTOP b']);
  assertError(
    await app.inject({
      method: 'POST',
      url: '/ui/lab/action',
      headers: { authorization: fx.basic.admin, 'content-type': 'application/json' },
      payload: { action: 'nuke' },
    }),
    400,
    'GRAFTD_INVALID_BODY',
  );
  assertError(
    await app.inject({ url: '/ui/lab/state', headers: { authorization: fx.basic.admin }, remoteAddress: '10.1.2.3' }),
    403,
    'GRAFTD_FORBIDDEN',
  );
  await app.close();
  fx.cleanup();

  // The supervisor itself wants its token.
  const direct = await fetch(new URL('lab/state', url));
  assert.equal(direct.status, 403);
  const withToken = await fetch(new URL('lab/state', url), { headers: { [LAB_TOKEN_HEADER]: token } });
  assert.equal(withToken.status, 200);
});
