/**
 * The work queue's snapshot: newline-delimited JSON, written and read as a byte stream.
 *
 * Why streamed: a snapshot may be larger than one buffer should be, and it is sent to followers
 * in chunks. The writer copies the state synchronously (WorkQueue.image(): the copy matches the
 * applied index the node asked for) and then yields ~64 KiB chunks, giving the event loop a turn
 * now and then; the reader parses line by line and refuses a truncated or inconsistent stream
 * (the last line states the counts), so a half-received snapshot can never become the state.
 *
 * Lines: ["head", "work-queue", 1, nextId] | ["i", id, payload, claimId] | ["r", id] |
 *        ["q", key, id] | ["end", items, ready, requests]
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { MAX_ID_CHARS, MAX_PAYLOAD_CHARS } from './commands.ts';
import { type Item, type QueueImage, WorkQueue } from './queue.ts';

const FORMAT = 'work-queue';
const VERSION = 1;
const CHUNK_CHARS = 64 * 1024;
/** Longest line the reader buffers: an item line with the largest payload, every character escaped. */
const MAX_LINE_CHARS = 6 * (MAX_PAYLOAD_CHARS + MAX_ID_CHARS) + 64;

/** Stream a copy of `queue` taken now (before this returns). */
export function writeQueueSnapshot(queue: WorkQueue): AsyncIterable<Uint8Array> {
  return generate(queue.image());
}

async function* generate(image: QueueImage): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let buf = `${JSON.stringify(['head', FORMAT, VERSION, image.nextId])}\n`;
  const lines = function* (): Generator<string> {
    for (const it of image.items) yield JSON.stringify(['i', it.id, it.payload, it.claimId]);
    for (const id of image.ready) yield JSON.stringify(['r', id]);
    for (const [key, id] of image.requests) yield JSON.stringify(['q', key, id]);
    yield JSON.stringify(['end', image.items.length, image.ready.length, image.requests.length]);
  };
  let chunks = 0;
  for (const line of lines()) {
    buf += `${line}\n`;
    if (buf.length >= CHUNK_CHARS) {
      yield encoder.encode(buf);
      buf = '';
      if (++chunks % 16 === 0) await yieldToLoop();
    }
  }
  if (buf !== '') yield encoder.encode(buf);
}

/** Parse a snapshot stream into a new queue. Throws (naming the problem) on anything but a complete, consistent snapshot. */
export async function readQueueSnapshot(source: AsyncIterable<Uint8Array>): Promise<WorkQueue> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  let lineNo = 0;
  let nextId = -1;
  let ended = false;
  const items: Item[] = [];
  const ready: number[] = [];
  const requests: [string, number][] = [];
  const take = (line: string): void => {
    lineNo++;
    if (ended) throw bad(lineNo, 'data after the end line');
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw bad(lineNo, 'not JSON');
    }
    if (!Array.isArray(v)) throw bad(lineNo, 'not an array');
    if (lineNo === 1) {
      if (v[0] !== 'head' || v[1] !== FORMAT || v[2] !== VERSION || !isId(v[3])) throw bad(1, 'not a work-queue snapshot of version 1');
      nextId = v[3];
      return;
    }
    if (v[0] === 'i' && isId(v[1]) && typeof v[2] === 'string' && typeof v[3] === 'string')
      items.push({ id: v[1], payload: v[2], claimId: v[3] });
    else if (v[0] === 'r' && isId(v[1])) ready.push(v[1]);
    else if (v[0] === 'q' && typeof v[1] === 'string' && isId(v[2])) requests.push([v[1], v[2]]);
    else if (v[0] === 'end') {
      if (v[1] !== items.length || v[2] !== ready.length || v[3] !== requests.length)
        throw bad(lineNo, 'counts disagree with the lines read');
      ended = true;
    } else throw bad(lineNo, `unexpected line ${line.slice(0, 40)}`);
  };
  let chunks = 0;
  for await (const chunk of source) {
    pending += decoder.decode(chunk, { stream: true });
    let from = 0;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', from)) {
      take(pending.slice(from, nl));
      from = nl + 1;
    }
    pending = pending.slice(from);
    if (pending.length > MAX_LINE_CHARS) throw bad(lineNo + 1, `a line longer than ${MAX_LINE_CHARS} characters`);
    if (++chunks % 16 === 0) await yieldToLoop();
  }
  pending += decoder.decode();
  if (pending !== '') throw bad(lineNo + 1, 'the stream ends inside a line');
  if (!ended) throw bad(lineNo, 'truncated: no end line');
  try {
    return WorkQueue.fromImage({ nextId, items, ready, requests });
  } catch (err) {
    throw new Error(`work-queue snapshot is inconsistent: ${(err as Error).message}`);
  }
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

function bad(line: number, what: string): Error {
  return new Error(`work-queue snapshot, line ${line}: ${what}`);
}
