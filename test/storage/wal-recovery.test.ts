/**
 * Recovery from torn writes and detection of corruption: truncate the last segment at every
 * byte offset of its final records, flip bits in the tail and in the middle.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CorruptionError } from '../../src/errors.ts';
import { recordingLog, silentLog } from '../../src/log.ts';
import type { Entry } from '../../src/raft/types.ts';
import { openWalStorage } from '../../src/storage/index.ts';
import { entry, sameEntries, tempDir } from './helpers.ts';

const HEADER = 24;
const entryBytes = (e: Entry): number => 9 + 17 + e.data.length;

/** Write `ents` one per save (no commit records), return the segment files and each entry's [start, end) offset in its file. */
function writeLog(dir: string, ents: Entry[], segmentBytes: number): { files: string[]; spans: Map<number, [string, number, number]> } {
  const s = openWalStorage(dir, { segmentBytes, log: silentLog });
  for (const e of ents) s.save(null, [e]);
  s.close();
  const files = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(dir, n));
  const spans = new Map<number, [string, number, number]>();
  let k = 0;
  for (const f of files) {
    const bytes = fs.readFileSync(f);
    let pos = HEADER;
    // Records are packed from the header on; the rest of the file is preallocated zeros.
    while (pos < bytes.length && bytes.readUInt32LE(pos + 4) !== 0) {
      const e = ents[k++] as Entry;
      spans.set(e.index, [f, pos, pos + entryBytes(e)]);
      pos += entryBytes(e);
    }
    assert.ok(
      bytes.subarray(pos).every((b) => b === 0),
      'test layout assumption: zeros after the records',
    );
  }
  assert.equal(k, ents.length);
  return { files, spans };
}

function makeEntries(n: number): Entry[] {
  const out: Entry[] = [];
  for (let i = 1; i <= n; i++) out.push(entry(i, 1 + Math.floor(i / 10), (i * 13) % 37, 1));
  return out;
}

test('cutting the last segment at every byte offset of its final records keeps exactly the complete records', () => {
  const { dir, cleanup } = tempDir();
  try {
    const ents = makeEntries(40);
    const { files, spans } = writeLog(dir, ents, 1024);
    assert.ok(files.length >= 2, 'the log spans several segments');
    const lastFile = files[files.length - 1] as string;
    const original = fs.readFileSync(lastFile);
    const tail = ents.filter((e) => spans.get(e.index)?.[0] === lastFile).slice(-5);
    const from = (spans.get((tail[0] as Entry).index) as [string, number, number])[1];
    const dataEnd = (spans.get((tail[tail.length - 1] as Entry).index) as [string, number, number])[2];
    assert.ok(original.length > dataEnd, 'the segment is preallocated beyond its data');
    // Every offset inside the final records, a few inside the preallocated zeros, and the full file.
    const cuts = [...Array.from({ length: dataEnd + 9 - from }, (_, k) => from + k), original.length];
    for (const cut of cuts) {
      fs.writeFileSync(lastFile, original.subarray(0, cut));
      const log = recordingLog();
      const s = openWalStorage(dir, { segmentBytes: 1024, log });
      const complete = ents.filter((e) => {
        const [f, , end] = spans.get(e.index) as [string, number, number];
        return f !== lastFile || end <= cut;
      });
      assert.equal(s.lastIndex(), complete.length, `cut at ${cut}`);
      assert.ok(sameEntries(s.entries(1, s.lastIndex() + 1), complete), `cut at ${cut}: entries differ`);
      const atBoundary = cut >= dataEnd || [...spans.values()].some(([f, , end]) => f === lastFile && end === cut);
      const warned = log.records.some((r) => r.level === 'warn' && r.msg.includes('torn tail'));
      assert.equal(warned, !atBoundary, `cut at ${cut}: a torn tail warning is logged exactly when a partial record was dropped`);
      // The store keeps working after the truncation, and the result survives another reopen.
      const next = s.lastIndex() + 1;
      s.save(null, [entry(next, 9, 5, 2)]);
      s.close();
      const again = openWalStorage(dir, { segmentBytes: 1024, log: silentLog });
      assert.equal(again.lastIndex(), next);
      assert.ok(sameEntries(again.entries(next, next + 1), [entry(next, 9, 5, 2)]));
      again.close();
    }
  } finally {
    cleanup();
  }
});

test('bit flips in the final record are a torn tail: truncated with a warning', () => {
  const { dir, cleanup } = tempDir();
  try {
    const ents = makeEntries(12);
    const { files, spans } = writeLog(dir, ents, 64 * 1024);
    const file = files[0] as string;
    const original = fs.readFileSync(file);
    const [, start, end] = spans.get(12) as [string, number, number];
    for (let byte = start; byte < end; byte++) {
      for (const bit of [0, 3, 7]) {
        const damaged = Buffer.from(original);
        damaged[byte] = (damaged[byte] as number) ^ (1 << bit);
        fs.writeFileSync(file, damaged);
        const log = recordingLog();
        const s = openWalStorage(dir, { log });
        assert.equal(s.lastIndex(), 11, `flip at byte ${byte} bit ${bit}`);
        assert.ok(sameEntries(s.entries(1, 12), ents.slice(0, 11)));
        const warning = log.records.find((r) => r.level === 'warn');
        assert.ok(warning !== undefined, 'a warning is logged');
        assert.equal((warning.obj as { offset: number }).offset, start);
        s.close();
        assert.equal(fs.statSync(file).size, start, 'the torn record is cut off the file');
      }
    }
  } finally {
    cleanup();
  }
});

test('a bit flip in the middle of the last segment is CorruptionError naming the file and offset', () => {
  const { dir, cleanup } = tempDir();
  try {
    const ents = makeEntries(12);
    const { files, spans } = writeLog(dir, ents, 64 * 1024);
    const file = files[0] as string;
    const original = fs.readFileSync(file);
    for (const index of [1, 6, 11]) {
      const [, start, end] = spans.get(index) as [string, number, number];
      for (let byte = start; byte < end; byte++) {
        const damaged = Buffer.from(original);
        damaged[byte] = (damaged[byte] as number) ^ (1 << (byte % 8));
        fs.writeFileSync(file, damaged);
        assert.throws(
          () => openWalStorage(dir, { log: silentLog }),
          (err: unknown) => {
            assert.ok(err instanceof CorruptionError, `flip at byte ${byte}: ${String(err)}`);
            assert.equal(err.code, 'GRAFTD_CORRUPT');
            assert.equal(err.file, file);
            assert.equal(err.offset, start);
            assert.match(err.message, new RegExp(`${path.basename(file)} at byte offset ${start}`));
            assert.match(err.message, /wipe its data directory and rejoin/);
            return true;
          },
        );
      }
    }
    // Nothing was truncated: the damage is still there for an operator to inspect.
    assert.equal(fs.statSync(file).size, original.length);
  } finally {
    cleanup();
  }
});

test('damage anywhere in a segment that is not the last one is CorruptionError, even in its final record', () => {
  const { dir, cleanup } = tempDir();
  try {
    const ents = makeEntries(40);
    const { files, spans } = writeLog(dir, ents, 1024);
    const first = files[0] as string;
    const original = fs.readFileSync(first);
    const inFirst = ents.filter((e) => spans.get(e.index)?.[0] === first);
    const lastOfFirst = inFirst[inFirst.length - 1] as Entry;
    const [, start, end] = spans.get(lastOfFirst.index) as [string, number, number];
    for (const byte of [start, start + 5, end - 1]) {
      const damaged = Buffer.from(original);
      damaged[byte] = (damaged[byte] as number) ^ 0x10;
      fs.writeFileSync(first, damaged);
      assert.throws(
        () => openWalStorage(dir, { segmentBytes: 1024, log: silentLog }),
        (err: unknown) => err instanceof CorruptionError && err.file === first && err.offset === start,
      );
    }
    // A truncated (not just damaged) earlier segment is corruption too: a gap before the next one.
    fs.writeFileSync(first, original.subarray(0, start));
    assert.throws(() => openWalStorage(dir, { segmentBytes: 1024, log: silentLog }), CorruptionError);
    // A missing middle segment is a gap.
    fs.writeFileSync(first, original);
    if (files.length >= 3) {
      fs.rmSync(files[1] as string);
      assert.throws(() => openWalStorage(dir, { segmentBytes: 1024, log: silentLog }), /segment starts at index/);
    }
  } finally {
    cleanup();
  }
});

test('garbage and zeros after the last record are a torn tail; a damaged hard state file is CorruptionError', () => {
  const { dir, cleanup } = tempDir();
  try {
    const ents = makeEntries(5);
    const { files } = writeLog(dir, ents, 64 * 1024);
    const file = files[0] as string;
    fs.appendFileSync(file, Buffer.alloc(4096));
    let s = openWalStorage(dir, { log: silentLog });
    assert.equal(s.lastIndex(), 5);
    s.save({ term: 3, vote: 'n1', commit: 2 }, []);
    s.close();
    fs.appendFileSync(file, Buffer.from('not a record at all, just junk appended by someone'));
    s = openWalStorage(dir, { log: silentLog });
    assert.equal(s.lastIndex(), 5);
    assert.deepEqual(s.initialState().hardState, { term: 3, vote: 'n1', commit: 2 });
    s.close();
    const hs = path.join(dir, 'hardstate');
    const bytes = fs.readFileSync(hs);
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] as number) ^ 1;
    fs.writeFileSync(hs, bytes);
    assert.throws(
      () => openWalStorage(dir, { log: silentLog }),
      (err: unknown) => err instanceof CorruptionError && err.file === hs,
    );
  } finally {
    cleanup();
  }
});
