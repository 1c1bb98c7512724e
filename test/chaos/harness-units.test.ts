import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NETWORK_FAULTS } from './faults.ts';
import { describeFaultList, isNetworkFault, minHoldMs, parseFaultList, partitionRules } from './faults.ts';
import type { LinkRule } from './firewall.ts';
import { countDropped, ruleArgs } from './firewall.ts';
import { classifyError, classifyResponse } from './http-ops.ts';
import { chooseAction } from './membership.ts';
import { ChaosCluster, layoutNodes } from './nodes.ts';
import { Rng } from './prng.ts';
import { compactKeys, summaryLine } from './report.ts';
import { replayCommand, sparesFor } from './run.ts';
import { renderTimeline } from './timeline-html.ts';
import { keysAt } from './workload.ts';

test('HTTP answers map onto ok / fail / info as docs/api.md says', () => {
  assert.deepEqual(classifyResponse('read', 'k', 200, '{"k":"v"}'), { type: 'ok', value: 'v' });
  assert.deepEqual(classifyResponse('read', 'k', 404, '{"error":"x","code":"GRAFTD_KEY_NOT_FOUND"}'), { type: 'ok', value: null });
  assert.equal(classifyResponse('read', 'k', 404, '{"error":"x","code":"GRAFTD_ROUTE_NOT_FOUND"}').type, 'fail');
  assert.equal(classifyResponse('read', 'k', 200, '{"other":"v"}').type, 'info');
  assert.equal(classifyResponse('write', 'k', 200, '').type, 'ok');
  assert.equal(classifyResponse('delete', 'k', 204, '').type, 'ok');
  assert.deepEqual(classifyResponse('write', 'k', 503, '{"code":"GRAFTD_NO_LEADER"}'), {
    type: 'fail',
    value: null,
    error: '503 GRAFTD_NO_LEADER',
  });
  assert.equal(classifyResponse('write', 'k', 400, '{"code":"GRAFTD_INVALID_BODY"}').type, 'fail');
  assert.equal(classifyResponse('write', 'k', 504, '{"code":"GRAFTD_TIMEOUT"}').type, 'info');
  assert.equal(classifyResponse('delete', 'k', 500, 'oops').type, 'info');
  assert.equal(classifyResponse('write', 'k', 502, '').type, 'info');
});

test('client errors: never connected is fail, anything after sending is info', () => {
  assert.equal(classifyError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).type, 'fail');
  assert.equal(classifyError(Object.assign(new Error('t'), { code: 'UND_ERR_CONNECT_TIMEOUT' })).type, 'fail');
  assert.equal(classifyError(Object.assign(new Error('closed'), { code: 'UND_ERR_SOCKET' })).type, 'info');
  assert.equal(classifyError(Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' })).type, 'info');
  assert.equal(classifyError(new DOMException('timed out', 'TimeoutError')).type, 'info');
  assert.equal(classifyError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })).type, 'info');
});

/** Which nodes each node can still reach (both directions open) under `rules`. */
function reachable(ids: readonly string[], rules: readonly LinkRule[]): Map<string, Set<string>> {
  const cut = new Set(rules.filter((r) => (r.probability ?? 1) === 1).map((r) => `${r.from}>${r.to}`));
  return new Map(ids.map((a) => [a, new Set(ids.filter((b) => a === b || (!cut.has(`${a}>${b}`) && !cut.has(`${b}>${a}`))))]));
}

test('partitions cut what they claim, for 3 and 5 nodes', () => {
  for (const n of [3, 5]) {
    const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    const majority = Math.floor(n / 2) + 1;
    for (let seed = 0; seed < 20; seed++) {
      const ipOf = (id: string): string => id;
      const run = (name: (typeof NETWORK_FAULTS)[number]) => {
        const { rules, detail } = partitionRules(name, ids, 'n1', new Rng(seed), ipOf);
        assert.ok(detail.length > 0);
        return { rules, reach: reachable(ids, rules) };
      };
      const iso = run('partition-leader').reach;
      assert.equal(iso.get('n1')!.size, 1, 'the isolated leader reaches nobody');
      const sb = run('split-brain').reach;
      assert.equal(sb.get('n1')!.size, n - majority, `split brain: the leader's side is a minority (n=${n})`);
      assert.ok(
        [...sb.values()].some((s) => s.size === majority && !s.has('n1')),
        'split brain: the other side is a majority without the leader',
      );
      for (const [, s] of run('partition-ring').reach) assert.ok(s.size >= majority, 'ring: every node still sees a majority');
      const ring = run('partition-ring').rules;
      assert.ok(ring.length > 0, 'ring cuts something');
      const bridge = run('partition-bridge').reach;
      assert.ok(
        [...bridge.values()].some((s) => s.size === n),
        'bridge: one node sees everyone',
      );
      const oneWay = run('partition-oneway').rules;
      assert.equal(oneWay.length, n - 1);
      const loss = run('packet-loss').rules;
      assert.equal(loss.length, n * (n - 1));
      for (const r of loss) assert.ok(r.probability! >= 0.1 && r.probability! <= 0.5);
      const halves = run('partition-halves').reach;
      assert.ok([...halves.values()].every((s) => s.size <= Math.ceil(n / 2)));
    }
  }
});

test('iptables rule arguments', () => {
  assert.deepEqual(ruleArgs({ from: '127.0.0.11', to: '127.0.0.12' }), ['-s', '127.0.0.11', '-d', '127.0.0.12', '-j', 'DROP']);
  assert.deepEqual(ruleArgs({ from: 'a', to: 'b', probability: 0.25 }), [
    '-s',
    'a',
    '-d',
    'b',
    '-m',
    'statistic',
    '--mode',
    'random',
    '--probability',
    '0.2500',
    '-j',
    'DROP',
  ]);
  assert.throws(() => ruleArgs({ from: 'a', to: 'b', probability: 0 }), RangeError);
});

test('fault lists parse, abbreviate, and reject unknown names', () => {
  assert.equal(describeFaultList(parseFaultList('all')), 'all');
  assert.equal(describeFaultList(parseFaultList('network')), 'network');
  assert.equal(describeFaultList(parseFaultList('none')), 'none');
  assert.deepEqual(parseFaultList('kill-leader, packet-loss'), ['kill-leader', 'packet-loss']);
  assert.throws(() => parseFaultList('kill-everything'), /unknown fault "kill-everything"/);
  assert.equal(
    replayCommand({ nodes: 5, durationS: 60, seed: 42, faults: parseFaultList('all'), testFault: 'no-check-quorum' }),
    'npm run chaos -- --nodes 5 --duration 60 --seed 42 --faults all --runs 1 --test-fault no-check-quorum',
  );
  assert.equal(
    summaryLine({ runs: 20, violations: 0, lostWrites: 0, unknown: 1 }),
    'chaos: 20 runs, 0 violations, 0 lost acknowledged writes, 1 unknown',
  );
});

test('per-key verdict lists are compact', () => {
  assert.equal(compactKeys(['k3', 'k1', 'k2', 'k7', 'sb']), 'k1–k3 k7 sb');
  assert.equal(compactKeys([]), '—');
});

test('the generator is deterministic per seed, and forks do not disturb the parent', () => {
  const a = new Rng(7);
  const b = new Rng(7);
  b.fork(3).next();
  const xs = Array.from({ length: 5 }, () => a.next());
  const ys = Array.from({ length: 5 }, () => b.next());
  assert.deepEqual(xs, ys);
  assert.notDeepEqual(new Rng(8).next(), new Rng(7).next());
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

test('key windows rotate and overlap', () => {
  const o = { keysPerWindow: 4, keyWindowMs: 1000 };
  assert.deepEqual(keysAt(0, o), [0, 1, 2, 3]);
  assert.deepEqual(keysAt(1500, o), [2, 3, 4, 5]);
});

test('the timeline is self-contained, has a lane per client, shades faults and escapes text', () => {
  const html = renderTimeline({
    title: 'run <1>',
    events: [
      { type: 'invoke', process: 0, op: 'write', key: 'k1', value: '<b>', time: 0 },
      { type: 'invoke', process: 1, op: 'read', key: 'k1', value: null, time: 1 },
      { type: 'ok', process: 0, op: 'write', key: 'k1', value: '<b>', time: 5 },
      { type: 'info', process: 1, op: 'read', key: 'k1', value: null, time: 9 },
    ],
    faults: [{ name: 'kill-leader', detail: 'kill -9 n1', start: 2, end: 4 }],
    failing: [],
  });
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script src|<link /);
  assert.match(html, />c0</);
  assert.match(html, />c1</);
  assert.match(html, /class="fault"/);
  assert.match(html, /kill-leader/);
  assert.doesNotMatch(html, /<b>/);
  assert.match(html, /run &#60;1&#62;/);
});

test('membership: actions keep the size within base−1 (5+ nodes) .. base+1, transfers when nothing else fits', () => {
  const rng = new Rng(11);
  for (let i = 0; i < 200; i++) {
    const a3 = chooseAction(3, 3, 2, rng);
    assert.ok(a3 === 'add' || a3 === 'transfer', `3 of base 3: ${a3}`);
    const b3 = chooseAction(4, 3, 1, rng);
    assert.ok(b3 === 'remove' || b3 === 'transfer', `4 of base 3: ${b3}`);
    assert.notEqual(chooseAction(3, 3, 0, rng), 'add', 'no free slot, no add');
    const a5 = chooseAction(5, 5, 2, rng);
    assert.ok(a5 !== undefined);
    const b5 = chooseAction(4, 5, 2, rng);
    assert.ok(b5 === 'add' || b5 === 'transfer', `4 of base 5: ${b5}`);
  }
  const seen = new Set(Array.from({ length: 200 }, () => chooseAction(5, 5, 2, rng)));
  assert.deepEqual([...seen].sort(), ['add', 'remove', 'transfer'], 'base 5 goes both ways');
});

test('membership: the gap between the leader view and the intended members', () => {
  const view = (ids: [string, boolean][]) => ids.map(([id, voter]) => ({ id, voter, raftAddr: '', httpAddr: '' }));
  const intended = new Map([
    ['n1', true],
    ['n2', true],
    ['n4', true],
  ]);
  assert.equal(
    ChaosCluster.membershipGap(
      view([
        ['n1', true],
        ['n2', true],
        ['n4', true],
      ]),
      intended,
    ),
    '',
  );
  assert.equal(
    ChaosCluster.membershipGap(
      view([
        ['n1', true],
        ['n2', true],
        ['n3', true],
        ['n4', false],
      ]),
      intended,
    ),
    'n4 is a learner, n3 still a member',
  );
  assert.equal(ChaosCluster.membershipGap(view([['n1', true]]), intended), 'n2 missing, n4 missing');
});

test('layout: spare slots after the founders, never past 127.0.0.17', () => {
  const specs = layoutNodes(5, '/tmp/x', 2);
  assert.deepEqual(
    specs.map((s) => `${s.id}@${s.ip}:${s.httpAddr.split(':')[1]}/${s.raftAddr.split(':')[1]}`),
    [11, 12, 13, 14, 15, 16, 17].map((n) => `n${n - 10}@127.0.0.${n}:130${n}/140${n}`),
  );
  assert.throws(() => layoutNodes(5, '/tmp/x', 3), RangeError);
  assert.equal(sparesFor({ nodes: 3, faults: ['membership'] }), 2);
  assert.equal(sparesFor({ nodes: 3, faults: ['kill-leader'] }), 0);
  assert.equal(sparesFor({ nodes: 5, faults: ['membership'], spares: 5 }), 2);
});

test('long pause: held at least 3 × ELECTION_TIMEOUT; the fault lists know the new kinds', () => {
  assert.ok(minHoldMs('pause-leader-long', { electionTimeoutMs: 500 }) > 1500);
  assert.equal(minHoldMs('pause-leader', { electionTimeoutMs: 500 }), 0);
  assert.ok(parseFaultList('process').includes('pause-leader-long'));
  assert.deepEqual(parseFaultList('membership,kill-leader'), ['membership', 'kill-leader']);
  assert.ok(parseFaultList('all').includes('membership'));
  assert.ok(!isNetworkFault('membership'));
});

test('firewall: dropped packets are summed from the chain listing', () => {
  const listing = `Chain GRAFTD-CHAOS (1 references)
    pkts      bytes target     prot opt in     out     source               destination
      12      720 DROP       0    --  *      *       127.0.0.11           127.0.0.12
       3      180 DROP       0    --  *      *       127.0.0.12           127.0.0.11           statistic mode random probability 0.50000000000
`;
  assert.equal(countDropped(listing), 15);
  assert.equal(countDropped(''), 0);
});

test('replay command carries --no-lease-reads only when lease reads are off', () => {
  const base = { nodes: 3, durationS: 10, seed: 1, faults: ['membership'] as const };
  assert.doesNotMatch(replayCommand({ ...base, faults: [...base.faults] }), /lease/);
  assert.match(replayCommand({ ...base, faults: [...base.faults], workload: { leaseReads: false } }), / --no-lease-reads$/);
});
