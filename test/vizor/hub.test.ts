// Bounds and backpressure of the live view's event hub.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeEvent } from '../../src/node/api.ts';
import type { Message } from '../../src/raft/types.ts';
import { toVizorEvent } from '../../src/vizor/events.ts';
import { CLOSE_TOO_MANY, CLOSE_TOO_SLOW, EventHub, type VizorClient, type VizorFrame } from '../../src/vizor/hub.ts';

function message(overrides: Partial<Message>): Message {
  return {
    type: 'app',
    from: 'n1',
    to: 'n2',
    term: 3,
    logTerm: 3,
    index: 7,
    entries: [],
    commit: 6,
    reject: false,
    rejectHint: 0,
    context: '',
    snapshot: null,
    ...overrides,
  };
}

class FakeClient implements VizorClient {
  frames: VizorFrame[] = [];
  buffered = 0;
  closed: { code: number; reason: string } | null = null;
  send(text: string): void {
    this.frames.push(JSON.parse(text) as VizorFrame);
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
}

const sendEvent = (m: Partial<Message>): NodeEvent => ({ kind: 'send', message: message(m) });

test('publish is a no-op while nobody watches', () => {
  const hub = new EventHub({ node: 'n1' });
  for (let i = 0; i < 100; i++) hub.publish(sendEvent({}));
  assert.equal(hub.pendingCount, 0);
  assert.equal(hub.active, false);
});

test('events are batched into one frame per flush with increasing seq', () => {
  const hub = new EventHub({ node: 'n1', now: () => 42 });
  const client = new FakeClient();
  const detach = hub.attach(client);
  hub.publish(sendEvent({ entries: [{ index: 8, term: 3, type: 'normal', data: new Uint8Array(1) }] }));
  hub.publish({ kind: 'commit', index: 8 });
  hub.flush();
  assert.equal(client.frames.length, 1);
  const frame = client.frames[0]!;
  assert.deepEqual(
    frame.events.map((e) => [e.seq, e.kind, e.rpc ?? '']),
    [
      [1, 'send', 'AppendEntries'],
      [2, 'commit', ''],
    ],
  );
  assert.equal(frame.events[0]!.entries, 1);
  detach();
  assert.equal(hub.active, false);
});

test('the pending queue is bounded: oldest events are dropped and counted', () => {
  const hub = new EventHub({ node: 'n1', maxPendingEvents: 10 });
  const client = new FakeClient();
  hub.attach(client);
  for (let i = 0; i < 25; i++) hub.publish({ kind: 'commit', index: i });
  assert.equal(hub.pendingCount, 10);
  hub.flush();
  const frame = client.frames[0]!;
  assert.equal(frame.dropped, 15);
  assert.deepEqual(
    frame.events.map((e) => e.index),
    [15, 16, 17, 18, 19, 20, 21, 22, 23, 24],
  );
  hub.close();
});

test('a slow client is disconnected and never slows the others', () => {
  const hub = new EventHub({ node: 'n1', maxClientBufferedBytes: 1000 });
  const slow = new FakeClient();
  const fast = new FakeClient();
  hub.attach(slow);
  hub.attach(fast);
  slow.buffered = 5000;
  hub.publish({ kind: 'commit', index: 1 });
  hub.flush();
  assert.equal(slow.closed?.code, CLOSE_TOO_SLOW);
  assert.equal(slow.frames.length, 0);
  assert.equal(fast.frames.length, 1);
  assert.equal(hub.clientCount, 1);
  assert.equal(hub.slowClientsDropped, 1);
  hub.close();
});

test('connections beyond maxClients are refused', () => {
  const hub = new EventHub({ node: 'n1', maxClients: 2 });
  const clients = [new FakeClient(), new FakeClient(), new FakeClient()];
  for (const c of clients) hub.attach(c);
  assert.equal(clients[2]!.closed?.code, CLOSE_TOO_MANY);
  assert.equal(hub.clientCount, 2);
  hub.close();
});

test('a newly attached client gets the bounded recent history', () => {
  const hub = new EventHub({ node: 'n1', historySize: 3 });
  const first = new FakeClient();
  hub.attach(first);
  for (let i = 1; i <= 5; i++) hub.publish({ kind: 'commit', index: i });
  hub.flush();
  const late = new FakeClient();
  hub.attach(late);
  assert.deepEqual(
    late.frames[0]!.events.map((e) => e.index),
    [3, 4, 5],
  );
  hub.close();
});

test('raft messages are named as in the paper', () => {
  const name = (m: Partial<Message>): string | undefined => toVizorEvent('n1', sendEvent(m), 0).rpc;
  assert.equal(name({ type: 'app' }), 'AppendEntries');
  assert.equal(name({ type: 'heartbeat' }), 'Heartbeat');
  assert.equal(name({ type: 'heartbeat', context: 'r1' }), 'ReadIndex');
  assert.equal(name({ type: 'heartbeat', context: '3.17' }), 'Heartbeat', 'a periodic heartbeat round (renews the lease) is a heartbeat');
  assert.equal(name({ type: 'vote' }), 'RequestVote');
  assert.equal(name({ type: 'preVoteResp', reject: true }), 'PreVote');
  assert.equal(name({ type: 'timeoutNow' }), 'TimeoutNow');
  const snap = toVizorEvent(
    'n1',
    sendEvent({ type: 'snap', snapshot: { index: 50, term: 2, confState: { voters: [], learners: [], context: {} } } }),
    0,
  );
  assert.equal(snap.rpc, 'InstallSnapshot');
  assert.equal(snap.index, 50);
  const resp = toVizorEvent('n1', sendEvent({ type: 'appResp', reject: true }), 0);
  assert.equal(resp.resp, true);
  assert.equal(resp.success, false);
});
