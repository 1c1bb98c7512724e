/**
 * Child process of the crash test: appends WAL batches, changes the hard state, compacts, and
 * writes snapshots, forever, reporting each durable step on stdout as soon as it returns. The
 * parent kills it with SIGKILL at a random moment and checks that every reported step survived.
 *
 * Usage: node --import tsx test/storage/crash-writer.ts <dir> <salt>
 * Lines: `ready <lastIndex>`, `B <first> <last> <term>` (entries durable), `H <term> <vote>`
 * (hard state durable), `S <index> <size> <checksum>` (snapshot committed).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { nullLog } from '../../src/storage/null-log.ts';
import type { Entry } from '../../src/raft/types.ts';
import { openSnapshotStore, openWalStorage } from '../../src/storage/index.ts';
import { crashEntry } from './crash-model.ts';

const [dir, saltArg] = process.argv.slice(2);
if (dir === undefined || saltArg === undefined) throw new Error('usage: crash-writer.ts <dir> <salt>');
const salt = Number(saltArg);
const say = (line: string): void => {
  fs.writeSync(1, `${line}\n`);
};

// inlineSyncBelowMs 0: saveAsync always syncs on the thread pool (save() covers the inline path).
const wal = openWalStorage(path.join(dir, 'wal'), { segmentBytes: 8192, log: nullLog, inlineSyncBelowMs: 0 });
const snaps = openSnapshotStore(path.join(dir, 'snap'), { retain: 2, log: nullLog });
let { term, vote } = wal.initialState().hardState;
let seed = salt * 7919 + 1;
const rnd = (n: number): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
};
say(`ready ${wal.lastIndex()}`);

async function main(): Promise<void> {
  // Bounded so a child the parent fails to kill still ends.
  for (let step = 0; step < 100_000; step++) {
    const r = rnd(100);
    if (r < 80) {
      const first = wal.lastIndex() + 1;
      const batch: Entry[] = [];
      for (let i = first; i < first + 1 + rnd(40); i++) batch.push(crashEntry(i, term, salt));
      const commit = Math.max(0, first - 5);
      // Half the batches take the asynchronous path (fdatasync on the thread pool): reported only once it resolves.
      if (rnd(2) === 0) await wal.saveAsync({ term, vote, commit }, batch);
      else wal.save({ term, vote, commit }, batch);
      say(`B ${first} ${first + batch.length - 1} ${term}`);
    } else if (r < 90) {
      term++;
      vote = `n${term % 5}`;
      const p = wal.saveAsync({ term, vote, commit: Math.max(0, wal.lastIndex() - 5) }, []);
      assert(p === null, 'a term/vote change without entries is durable when saveAsync returns');
      say(`H ${term} ${vote}`);
    } else if (r < 95) {
      const index = wal.lastIndex() - 3;
      if (index > wal.snapshotMeta().index) {
        wal.createSnapshot({ index, term: wal.term(index), confState: { voters: ['n0'], learners: [], context: {} } });
        wal.compact(index - 20 > wal.firstIndex() ? index - 20 : wal.firstIndex() - 1);
      }
    } else {
      const index = wal.lastIndex();
      // One snapshot per index: the parent tells snapshots apart by index, and a second one at the
      // same index committed but not yet reported when the kill lands would look like a changed snapshot.
      if (index <= (snaps.latest()?.meta.index ?? 0)) continue;
      const w = snaps.create({ index, term, confState: { voters: ['n0'], learners: [], context: {} } });
      const size = rnd(300_000);
      const chunk = Buffer.alloc(16 * 1024, index & 0xff);
      for (let pos = 0; pos < size; pos += chunk.length) await w.write(chunk.subarray(0, Math.min(chunk.length, size - pos)));
      const s = await w.commit();
      say(`S ${index} ${s.size} ${s.checksum}`);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`crash-writer failed: ${String(err)}\n`);
  process.exit(1);
});
