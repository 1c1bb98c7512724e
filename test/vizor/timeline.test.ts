// The page's pure logic, run in node: the merged timeline (reorder window, clock offsets,
// send/receive pairing), the chaos-run conversion of a real recorded run, and the guide.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

interface Ev {
  node: string;
  seq: number;
  t: number;
  st: number;
  id: string;
  kind: string;
  rpc?: string;
  resp?: boolean;
  from?: string;
  to?: string;
  term?: number;
  index?: number;
  pair: string | null;
  late?: boolean;
  moved?: boolean;
  role?: string;
  detail?: string;
  success?: boolean;
  entries?: number;
}
interface TimelineModule {
  Timeline: new (o?: {
    windowMs?: number;
  }) => {
    add(raw: Partial<Ev>, offsetMs: number): Ev[];
    release(nowMs: number, flush?: boolean): Ev[];
    get(id: string): Ev | undefined;
    late: number;
  };
  ClockEstimator: new () => {
    add(node: string, offset: number, err: number): void;
    get(node: string): { offset: number; err: number; applied: number };
  };
}
interface Recording {
  nodes: string[];
  events: (Ev & { ht?: number; process?: number })[];
  faults: { name: string; detail: string; start: number; end: number | null }[];
  violation: { st: number; key: string; message: string; ids: string[] } | null;
  notes: string[];
  title: string;
}
interface RecordingModule {
  chaosRunToRecording(files: { name: string; text: string }[]): Recording;
  parseRecording(text: string): Recording;
  makeRecording(r: Partial<Recording> & { source: string }): Recording;
  isChaosRun(files: { name: string }[]): boolean;
}
interface GuideModule {
  explain(e: Partial<Ev>): { topic: string; text: string; section: { label: string; href: string } } | null;
}

const assets = resolve(import.meta.dirname, '../../src/vizor/assets');
const load = async <T>(name: string): Promise<T> => (await import(pathToFileURL(resolve(assets, name)).href)) as T;
const { Timeline, ClockEstimator } = await load<TimelineModule>('timeline.js');
const rec = await load<RecordingModule>('recording.js');
const { explain } = await load<GuideModule>('guide.js');

const app = (over: Partial<Ev>): Partial<Ev> => ({
  kind: 'send',
  rpc: 'AppendEntries',
  resp: false,
  term: 2,
  index: 5,
  entries: 1,
  ...over,
});

test('batches arriving node by node leave the window in time order across nodes', () => {
  const tl = new Timeline({ windowMs: 300 });
  // node2's batch arrives first, then node0's, then node1's (the order the issue saw).
  for (const [node, ts] of [
    ['n2', [1014, 1025]],
    ['n0', [1008, 1025]],
    ['n1', [1013, 1024]],
  ] as const) {
    ts.forEach((t, i) => {
      tl.add({ node, seq: i + 1, t, kind: 'commit', index: i }, 0);
    });
  }
  assert.deepEqual(tl.release(1200), [], 'nothing leaves before the window has passed');
  const out = tl.release(1400);
  assert.deepEqual(
    out.map((e) => `${e.node}@${e.st}`),
    ['n0@1008', 'n1@1013', 'n2@1014', 'n1@1024', 'n0@1025', 'n2@1025'],
  );
  // A straggler older than what already left is flagged late (the page inserts it at its time).
  tl.add({ node: 'n1', seq: 3, t: 1010, kind: 'commit', index: 9 }, 0);
  const [late] = tl.release(2000);
  assert.equal(late?.late, true);
  assert.equal(tl.late, 1);
});

test('clock offsets: the fastest round trip wins, and an offset within its noise is not applied', () => {
  const c = new ClockEstimator();
  c.add('n1', 40, 30);
  c.add('n1', 12, 1.5);
  c.add('n1', -20, 25);
  assert.deepEqual(c.get('n1'), { offset: 12, err: 1.5, applied: 12 });
  c.add('n2', 0.4, 0.9);
  assert.equal(c.get('n2').applied, 0);
  assert.equal(c.get('nobody').applied, 0);
  // Applied offsets move a node's events onto the browser clock.
  const tl = new Timeline({ windowMs: 0 });
  tl.add({ node: 'n1', seq: 1, t: 1012, kind: 'commit' }, c.get('n1').applied);
  assert.equal(tl.release(5000)[0]?.st, 1000);
});

test('a receive pairs with its send, whichever arrives first, and is never shown before it', () => {
  const tl = new Timeline({ windowMs: 0 });
  // The receive (n2, whose clock runs 2 ms behind) arrives before the send's batch.
  assert.deepEqual(tl.add({ ...app({ kind: 'recv', from: 'n1', to: 'n2' }), node: 'n2', seq: 1, t: 99 }, 0), []);
  const paired = tl.add({ ...app({ from: 'n1', to: 'n2' }), node: 'n1', seq: 1, t: 100 }, 0);
  assert.equal(paired.length, 2);
  const send = tl.get('n1:1')!;
  const recv = tl.get('n2:1')!;
  assert.equal(send.pair, 'n2:1');
  assert.equal(recv.pair, 'n1:1');
  assert.ok(recv.st > send.st, `receive at ${recv.st} must follow its send at ${send.st}`);
  assert.equal(recv.moved, true);
  // Other RPC fields do not pair.
  tl.add({ ...app({ from: 'n1', to: 'n3', index: 6 }), node: 'n1', seq: 2, t: 200 }, 0);
  tl.add({ ...app({ kind: 'recv', from: 'n1', to: 'n3', index: 7 }), node: 'n3', seq: 1, t: 201 }, 0);
  assert.equal(tl.get('n3:1')!.pair, null);
});

test('identical messages pair first in first out (one TCP connection per link); a send long unanswered counts as lost', () => {
  const tl = new Timeline({ windowMs: 0 });
  const resp = { kind: 'send', rpc: 'AppendEntries', resp: true, term: 2, index: 7, success: true, from: 'n2', to: 'n1' };
  for (const [seq, t] of [
    [1, 333.0],
    [2, 333.1],
    [3, 333.2],
  ] as const)
    tl.add({ ...resp, node: 'n2', seq, t }, 0);
  for (const [seq, t] of [
    [1, 347.1],
    [2, 347.2],
    [3, 347.3],
  ] as const)
    tl.add({ ...resp, kind: 'recv', node: 'n1', seq, t }, 0);
  assert.deepEqual(
    [1, 2, 3].map((s) => tl.get(`n1:${s}`)!.pair),
    ['n2:1', 'n2:2', 'n2:3'],
  );
  const hb = { kind: 'send', rpc: 'Heartbeat', resp: false, term: 3, from: 'n1', to: 'n2' };
  tl.add({ ...hb, node: 'n1', seq: 10, t: 1000 }, 0); // never arrives (partition)
  tl.add({ ...hb, node: 'n1', seq: 11, t: 5000 }, 0);
  tl.add({ ...hb, kind: 'recv', node: 'n2', seq: 10, t: 5000.4 }, 0);
  assert.equal(tl.get('n2:10')!.pair, 'n1:11');
  assert.equal(tl.get('n1:10')!.pair, null);
});

const FIXTURE = resolve(import.meta.dirname, 'fixtures/chaos-run');
const fixtureFiles = (): { name: string; text: string }[] =>
  readdirSync(FIXTURE).map((name) => ({ name: `run/${name}`, text: readFileSync(resolve(FIXTURE, name), 'utf8') }));

test('a recorded chaos run (fixtures/chaos-run, a real run that found violations) becomes a recording that opens at the violation', () => {
  const files = fixtureFiles();
  assert.ok(rec.isChaosRun(files));
  const r = rec.chaosRunToRecording(files);
  assert.deepEqual(r.nodes, ['n1', 'n2', 'n3']);
  assert.match(r.title, /seed 7.*violation/);
  assert.deepEqual(r.notes, []);
  const kinds = new Set(r.events.map((e) => e.kind));
  for (const k of ['role', 'client', 'fault', 'process']) assert.ok(kinds.has(k), `events of kind ${k}`);
  for (let i = 1; i < r.events.length; i++) assert.ok(r.events[i - 1]!.st <= r.events[i]!.st, 'events sorted by time');
  // History times are put on the node logs' clock: the first client call falls inside the node log span.
  const logTimes = r.events.filter((e) => e.node !== '~harness').map((e) => e.st);
  const firstClient = r.events.find((e) => e.kind === 'client')!;
  assert.ok(firstClient.st > Math.min(...logTimes) && firstClient.st < Math.max(...logTimes) + 60_000);
  // The violation: key k21, at the completion of the last operation of its minimal failing sub-history.
  const v = r.violation!;
  assert.equal(v.key, 'k21');
  assert.match(v.message, /stale read/);
  const failing = readFileSync(resolve(FIXTURE, 'failing-k21.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { time: number });
  assert.equal(v.ids.length, failing.length, 'every event of the failing sub-history is marked');
  const marked = r.events.filter((e) => v.ids.includes(e.id));
  assert.equal(Math.max(...marked.map((e) => e.st)), v.st);
  assert.equal(r.faults[0]?.name, 'partition-follower');
  // Without report.json's startedAtMs the alignment is approximate and says so.
  const noStart = files.map((f) => (f.name.endsWith('report.json') ? { ...f, text: f.text.replace(/,\s*"startedAtMs": [\d.]+/, '') } : f));
  assert.equal(rec.chaosRunToRecording(noStart).notes.length, 1);
});

test('a saved recording parses back; other files are refused with the reason', () => {
  const r = rec.makeRecording({
    source: 'live',
    title: 't',
    nodes: ['a'],
    events: [{ node: 'a', seq: 1, st: 5, t: 5, id: 'a:1', kind: 'commit', pair: null }],
  });
  assert.equal(rec.parseRecording(JSON.stringify(r)).events.length, 1);
  assert.throws(() => rec.parseRecording('{"format":"other"}'), /not a vizor recording/);
  assert.throws(() => rec.parseRecording('nope'), /invalid JSON/);
});

test('the guide names the common events in plain words, linked to the paper', () => {
  const cases: [Partial<Ev>, RegExp, RegExp][] = [
    [{ kind: 'role', node: 'n1', role: 'candidate', term: 4 }, /started an election/, /§5\.2/],
    [{ kind: 'role', node: 'n1', role: 'leader', term: 4 }, /won the election/, /§5\.2/],
    [{ kind: 'vote', node: 'n2', to: 'n1', term: 4, success: true, rpc: 'RequestVote' }, /granted its vote/, /§5\.4/],
    [{ kind: 'commit', node: 'n2', index: 9 }, /committed/, /§5\.4/],
    [{ kind: 'send', node: 'n1', to: 'n3', rpc: 'InstallSnapshot', index: 100 }, /snapshot/, /§7/],
    [{ kind: 'recv', node: 'n3', from: 'n1', rpc: 'TimeoutNow' }, /starts an election at once/, /§3\.10/],
  ];
  for (const [e, text, section] of cases) {
    const x = explain(e);
    assert.ok(x, JSON.stringify(e));
    assert.match(x.text, text);
    assert.match(x.section.label, section);
    assert.match(x.section.href, /^https:\/\//);
  }
  assert.equal(explain({ kind: 'send', rpc: 'Heartbeat', node: 'n1', to: 'n2' }), null);
});
