/**
 * The event-stream parser (src/client/sse.ts): line endings split anywhere across chunks,
 * comments, fields, multi-line data, ids only on their own block, bounds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type SseEvent, SseParser, SseTooLargeError } from '../../src/client/sse.ts';

/** Feed `text` in pieces cut at `cuts`, collecting the events. */
function parseIn(text: string, cuts: readonly number[], parser = new SseParser()): SseEvent[] {
  const out: SseEvent[] = [];
  let from = 0;
  for (const at of [...cuts, text.length]) {
    out.push(...parser.push(text.slice(from, at)));
    from = at;
  }
  return out;
}

const STREAM =
  'retry: 1000\n: watching from revision 5\n\n' +
  'data: {"a":1}\n\n' +
  'id: 5\ndata: {"b":2}\n\n' +
  'event: progress\nid: 9\ndata: {"revision":9}\n\n' +
  'event: closed\ndata: {"reason":"slow"}\n\n';

const EXPECTED: SseEvent[] = [
  { event: 'message', data: '{"a":1}', id: undefined },
  { event: 'message', data: '{"b":2}', id: '5' },
  { event: 'progress', data: '{"revision":9}', id: '9' },
  { event: 'closed', data: '{"reason":"slow"}', id: undefined },
];

test('events, ids only on the block that carries one, comments and retry', () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push(STREAM), EXPECTED);
  assert.equal(parser.retryMs, 1000);
  assert.equal(parser.lastEventId, '9', 'the stream-wide last event id is kept as EventSource keeps it');
});

test('the same events whatever the chunk boundaries, with LF, CRLF and CR line endings', () => {
  for (const ending of ['\n', '\r\n', '\r']) {
    const text = STREAM.replaceAll('\n', ending);
    // Every single cut point, and a split into one-character chunks.
    for (let at = 0; at <= text.length; at++)
      assert.deepEqual(parseIn(text, [at]), EXPECTED, `ending ${JSON.stringify(ending)} cut at ${at}`);
    const chars = [...Array(text.length).keys()];
    assert.deepEqual(parseIn(text, chars), EXPECTED, `ending ${JSON.stringify(ending)} one character at a time`);
  }
});

test('a CR at the end of a chunk followed by LF is one line ending, not two', () => {
  // A blank line would dispatch the event early (without its id) if CR and LF counted twice.
  const events = parseIn('data: x\r\nid: 3\r\n\r\n', [8]);
  assert.deepEqual(events, [{ event: 'message', data: 'x', id: '3' }]);
});

test('multi-line data, fields without a space or a colon, unknown fields, NUL ids, a leading BOM', () => {
  const parser = new SseParser();
  const events = parser.push('\uFEFFdata:one\ndata: two\ndata\nfoo: bar\nid: a\0b\n\nevent: x\ndata:  spaced\n\n');
  assert.deepEqual(events, [
    { event: 'message', data: 'one\ntwo\n', id: undefined },
    { event: 'x', data: ' spaced', id: undefined },
  ]);
  // A block without data dispatches nothing; its event name does not leak into the next one.
  assert.deepEqual(parser.push('event: lost\nid: 7\n\ndata: y\n\n'), [{ event: 'message', data: 'y', id: undefined }]);
  assert.equal(parser.lastEventId, '7');
});

test('an event or a line over the bound is refused, not buffered', () => {
  const parser = new SseParser(100);
  assert.throws(() => parser.push(`data: ${'x'.repeat(200)}\n`), SseTooLargeError);
  const lines = new SseParser(100);
  assert.throws(() => lines.push('data: 0123456789'.repeat(10)), SseTooLargeError, 'an unfinished line counts too');
  const many = new SseParser(100);
  assert.throws(() => {
    for (let i = 0; i < 20; i++) many.push('data: 0123456789\n');
  }, SseTooLargeError);
  assert.throws(() => new SseParser(0), RangeError);
});
