/**
 * A node of another cluster that lists this node as a member: the connection is refused (cluster
 * ids differ) and the acceptor is told which cluster claimed it, but only when the claim is proven
 * (with a secret) and addressed to its own id, so nobody without the secret can trigger it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ForeignClusterClaim } from '../../src/transport/hello-check.ts';
import { msg, node, sleep, until } from './helpers.ts';

const SECRET = Buffer.from('foreign-cluster-test-secret-0123');
const OTHER = Buffer.from('some-other-secret-entirely-98765');

for (const secret of [undefined, SECRET]) {
  const label = secret === undefined ? 'without a secret' : 'with the same secret';
  test(`${label}: another cluster's node dialling this node's id is refused and reported with its cluster id`, async () => {
    const claims: ForeignClusterClaim[] = [];
    const sec = secret === undefined ? {} : { security: { secret } };
    const mine = node('n4', '127.0.0.36:17651', { clusterId: 'cluster-Y', ...sec, onForeignCluster: (c) => claims.push(c) });
    const theirs = node('x-leader', '127.0.0.37:17652', { clusterId: 'cluster-X', ...sec });
    try {
      await Promise.all([mine.t.start(), theirs.t.start()]);
      theirs.t.setPeer('n4', '127.0.0.36:17651');
      theirs.t.send([msg('x-leader', 'n4', 'heartbeat')]);
      await until(() => claims.length > 0, 'the claim is reported');
      assert.deepEqual(claims[0], { clusterId: 'cluster-X', from: 'x-leader' });
      assert.equal(mine.received.length, 0, 'nothing from the other cluster is delivered');
    } finally {
      await Promise.all([mine.t.close(), theirs.t.close()]);
    }
  });
}

test('no claim without proof of the secret, nor for a hello addressed to another id', async () => {
  const claims: ForeignClusterClaim[] = [];
  const mine = node('n4', '127.0.0.36:17661', {
    clusterId: 'cluster-Y',
    security: { secret: SECRET },
    onForeignCluster: (c) => claims.push(c),
  });
  const stranger = node('x-leader', '127.0.0.37:17662', { clusterId: 'cluster-X', security: { secret: OTHER } });
  const misaddressed = node('x-other', '127.0.0.35:17663', { clusterId: 'cluster-X', security: { secret: SECRET } });
  try {
    await Promise.all([mine.t.start(), stranger.t.start(), misaddressed.t.start()]);
    stranger.t.setPeer('n4', '127.0.0.36:17661');
    stranger.t.send([msg('x-leader', 'n4', 'heartbeat')]);
    misaddressed.t.setPeer('n9', '127.0.0.36:17661');
    misaddressed.t.send([msg('x-other', 'n9', 'heartbeat')]);
    await until(() => mine.t.securityStats().handshakeFailures >= 2, 'both are refused');
    await sleep(100);
    assert.deepEqual(claims, []);
  } finally {
    await Promise.all([mine.t.close(), stranger.t.close(), misaddressed.t.close()]);
  }
});
