/**
 * Creating a data directory several levels deep must make every new level durable: after
 * `openWalStorage('/srv/graftd/wal')` on an empty disk, a save and a power cut, the log is there.
 * Before the fix only the WAL directory's own parent was fsynced, so the entry of `/srv` (and of
 * `/srv/graftd`) was lost at the cut and the whole log with it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureDataDir } from '../../src/node/data-dir.ts';
import { openWalStorage } from '../../src/storage/index.ts';
import { nullLog } from '../../src/storage/null-log.ts';
import { entries } from './helpers.ts';
import { PowerCutFs } from './power-cut-fs.ts';

test('every directory level that opening the WAL created survives a power cut', () => {
  for (const mode of ['drop', 'prefix', 'reorder'] as const) {
    const fs = new PowerCutFs({ seed: 7 });
    const w = openWalStorage('/srv/graftd/wal', { fs, log: nullLog });
    w.save({ term: 1, vote: 'a', commit: 3 }, entries(1, 3, 1, 16));
    fs.powerCut(mode);
    const again = openWalStorage('/srv/graftd/wal', { fs, log: nullLog });
    assert.equal(again.lastIndex(), 3, `${mode}: the saved entries are gone after the cut`);
    again.close();
  }
});

test("the node's data directory, created several levels deep, survives a power cut", () => {
  const fs = new PowerCutFs({ seed: 3 });
  ensureDataDir('/var/lib/graftd/n0', fs);
  fs.powerCut('drop');
  assert.ok(fs.existsSync('/var/lib/graftd/n0'), 'the data directory vanished at the cut');
});
