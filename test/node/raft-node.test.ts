/**
 * The generic raft node (createRaftNode) with a state machine that is not the key-value store: a
 * counter whose apply returns the new value, proving results travel back from the leader to a
 * proposing follower, arbitrary command bytes survive forwarding, reads run functions against the
 * state, and a restart restores the state from its snapshot plus the log. Loopback 127.0.0.171-173.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { GraftdError } from '../../src/errors.ts';
import { type PreparedRestore, type RaftRuntime, type StateMachine, createRaftNode } from '../../src/node/embed.ts';
import { tempDir } from '../storage/helpers.ts';
import { until } from './fakes.ts';

/** A counter: command = [op, delta] (op 1 = add, 0xff = add too, to exercise the forwarding escape); apply returns the new value. */
class Counter implements StateMachine<number> {
  value = 0;
  applied: number[] = [];
  apply(command: Uint8Array, index: number): number {
    if (command.length !== 2 || (command[0] !== 1 && command[0] !== 0xff))
      throw new GraftdError('GRAFTD_INVALID_BODY', 'bad counter command');
    this.applied.push(index);
    this.value += command[1]!;
    return this.value;
  }
  snapshot(): AsyncIterable<Uint8Array> {
    const v = this.value;
    return (async function* () {
      await yieldToLoop();
      yield Buffer.from(`counter:${v}`);
    })();
  }
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<PreparedRestore> {
    let text = '';
    for await (const c of chunks) text += Buffer.from(c).toString();
    const m = /^counter:(\d+)$/.exec(text);
    if (m === null) throw new GraftdError('GRAFTD_CORRUPT', `not a counter snapshot: ${text.slice(0, 20)}`);
    const value = Number(m[1]);
    return {
      install: () => {
        this.value = value;
      },
    };
  }
  validate(command: Uint8Array): void {
    if (command.length !== 2) throw new GraftdError('GRAFTD_INVALID_BODY', 'a counter command has 2 bytes');
  }
  readonly results = {
    encode: (n: number) => Buffer.from(String(n)),
    decode: (b: Uint8Array) => Number(Buffer.from(b).toString()),
  };
  describe() {
    return { value: this.value };
  }
}

const config = {
  heartbeatTimeoutMs: 20,
  electionTimeoutMs: 150,
  requestTimeoutMs: 5000,
  snapshotThreshold: 5,
  snapshotIntervalMs: 50,
  trailingLogs: 2,
};
const founders = [1, 2, 3].map((i) => ({ id: `c${i}`, raftAddr: `127.0.0.17${i}:17170`, httpAddr: '' }));

test('createRaftNode: a 3-node counter — forwarded proposals return results, reads run at the right index, a restart restores from the snapshot', async () => {
  const dirs = founders.map(() => tempDir('graftd-raftnode-'));
  const open = (i: number, sm = new Counter()) =>
    createRaftNode({
      id: founders[i]!.id,
      dataDir: dirs[i]!.dir,
      raftAddr: founders[i]!.raftAddr,
      stateMachine: sm,
      config,
      clusterId: 'counter-test',
      founders,
    });
  const nodes: RaftRuntime<Counter>[] = await Promise.all([0, 1, 2].map((i) => open(i)));
  try {
    await Promise.all(nodes.map((n) => n.whenReady(10_000)));
    const leader = nodes.find((n) => n.status().role === 'leader')!;
    const follower = nodes.find((n) => n !== leader)!;
    assert.equal(await leader.propose(Uint8Array.of(1, 2)), 2);
    // On a follower: forwarded to the leader; the result comes back decoded. 0xff-first bytes survive the escape.
    assert.equal(await follower.propose(Uint8Array.of(0xff, 3)), 5);
    assert.equal(await follower.read('linearizable', (c) => c.value), 5);
    assert.equal(await follower.read('lease', (c) => c.value), 5);
    // Validation on the leader refuses a malformed forwarded command; nothing is logged.
    await assert.rejects(follower.propose(Uint8Array.of(1, 2, 3)), (e: unknown) => (e as GraftdError).code === 'GRAFTD_INVALID_BODY');
    // A command the leader proposes itself and apply refuses: skipped everywhere, the proposer hears why.
    await assert.rejects(leader.propose(Uint8Array.of(7, 7)), (e: unknown) => (e as GraftdError).code === 'GRAFTD_INVALID_BODY');
    await assert.rejects(leader.propose(new Uint8Array(0)), (e: unknown) => (e as GraftdError).code === 'GRAFTD_INVALID_BODY');
    for (let i = 0; i < 20; i++) await nodes[i % 3]!.propose(Uint8Array.of(1, 1));
    assert.equal(await leader.read('linearizable', (c) => c.value), 25);
    assert.deepEqual(leader.status().state, { value: 25 });
    // Indexes given to apply strictly increase.
    for (const n of nodes)
      for (let i = 1; i < n.stateMachine.applied.length; i++) assert.ok(n.stateMachine.applied[i]! > n.stateMachine.applied[i - 1]!);
    // Restart a follower with a fresh state machine: snapshot + log rebuild the same value.
    await until(() => follower.status().snapshotIndex > 0, 10_000);
    const fi = nodes.indexOf(follower);
    await follower.close();
    const again = await open(fi);
    nodes[fi] = again;
    await until(() => again.stateMachine.value === 25 && again.status().leaderId !== '', 10_000);
    assert.equal(await again.read('linearizable', (c) => c.value), 25);
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    for (const d of dirs) d.cleanup();
  }
});
