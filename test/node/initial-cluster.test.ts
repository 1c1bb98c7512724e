/** -initial-cluster parsing: one readable line per mistake, one cluster id per list. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInitialCluster } from '../../src/cli/initial-cluster.ts';

const list = 'n0=10.0.0.1:12000,n1=10.0.0.2:12000,n2=10.0.0.3:12000';
const http = 'n0=10.0.0.1:11000,n1=10.0.0.2:11000,n2=10.0.0.3:11000';
const self = { selfId: 'n1', selfRaftAddr: '10.0.0.2:12000', selfHttpAddr: '10.0.0.2:11000' };

test('every founder derives the same membership and cluster id; the token changes the id', () => {
  const a = parseInitialCluster({ list, httpList: http, ...self });
  const b = parseInitialCluster({ list: 'n2=10.0.0.3:12000, n0=10.0.0.1:12000,n1=10.0.0.2:12000', httpList: http, ...self, selfId: 'n1' });
  assert.equal(a.clusterId, b.clusterId);
  assert.deepEqual(
    a.members.map((m) => `${m.id}@${m.raftAddr}@${m.httpAddr}`),
    ['n0@10.0.0.1:12000@10.0.0.1:11000', 'n1@10.0.0.2:12000@10.0.0.2:11000', 'n2@10.0.0.3:12000@10.0.0.3:11000'],
  );
  assert.notEqual(parseInitialCluster({ list, httpList: http, token: 'prod', ...self }).clusterId, a.clusterId);
});

test('mistakes are refused with the reason', () => {
  const bad = (o: Partial<Parameters<typeof parseInitialCluster>[0]>, re: RegExp) =>
    assert.throws(() => parseInitialCluster({ list, httpList: http, ...self, ...o }), re);
  bad({ list: '' }, /is empty/);
  bad({ list: 'n0:10.0.0.1:12000' }, /is not ID=/);
  bad({ list: 'n0=nohost' }, /invalid/);
  bad({ list: `${list},n0=10.0.0.9:12000` }, /listed twice/);
  bad(
    { list: 'n0=10.0.0.1:12000,n1=10.0.0.1:12000', httpList: 'n0=10.0.0.1:11000,n1=10.0.0.2:11000', selfRaftAddr: '10.0.0.1:12000' },
    /listed for two founders/,
  );
  bad({ selfId: 'n7' }, /does not list this node/);
  bad({ selfRaftAddr: '10.0.0.2:12001' }, /must be equal/);
  bad({ httpList: undefined }, /every founder; missing: n0, n1, n2/);
  bad({ httpList: 'n0=10.0.0.1:11000,n1=10.0.0.2:11000' }, /missing: n2/);
  bad({ httpList: `${http},n9=10.0.0.9:11000` }, /not in -initial-cluster/);
  bad({ selfHttpAddr: '10.0.0.2:11001' }, /HTTP address as 10.0.0.2:11001/);
});
