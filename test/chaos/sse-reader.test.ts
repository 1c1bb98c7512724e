/**
 * The harness's SSE parser: line ends split across chunks (LF, CRLF, CR), comments, `id:` only on
 * the block that carries it, multi-line data, events without data dropped, the size bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SseEvent } from './sse-reader.ts';
import { SseParser } from './sse-reader.ts';

function parse(chunks: string[], max?: number): SseEvent[] {
  const out: SseEvent[] = [];
  const p = new SseParser((e) => out.push(e), max);
  for (const c of chunks) p.push(c);
  return out;
}

test('events across chunk boundaries, every line end, ids per block', () => {
  const text =
    'retry: 1000\n: watching from revision 1\n\ndata: {"a":1}\r\n\r\nid: 2\ndata: {"b":2}\r\rdata: x\ndata: y\n\nevent: progress\nid: 7\ndata: {"revision":7}\n\n';
  const want: SseEvent[] = [
    { event: 'message', id: undefined, data: '{"a":1}' },
    { event: 'message', id: '2', data: '{"b":2}' },
    { event: 'message', id: undefined, data: 'x\ny' },
    { event: 'progress', id: '7', data: '{"revision":7}' },
  ];
  assert.deepEqual(parse([text]), want);
  // Every split point, including between \r and \n.
  for (let i = 1; i < text.length; i++) assert.deepEqual(parse([text.slice(0, i), text.slice(i)]), want, `split at ${i}`);
  assert.deepEqual(parse([...text]), want);
});

test('an event past the bound throws', () => {
  assert.throws(() => parse([`data: ${'x'.repeat(100)}`], 50), RangeError);
  assert.throws(() => parse([`data: ${'x'.repeat(30)}\ndata: ${'y'.repeat(30)}\n`], 50), RangeError);
});
