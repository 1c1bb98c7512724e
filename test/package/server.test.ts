/**
 * `graftd/server` from the sources: startServer validates like the CLI (a mistake is a
 * GraftdError, nothing left running), a one-node server becomes ready, serves the client, and
 * close() ends it with `stopped` = closed. Loopback 127.0.0.177 (unused elsewhere).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GraftdClient } from '../../src/index.ts';
import { GraftdError, serverArgv, silentLog, startServer } from '../../src/server.ts';

const HOST = '127.0.0.177';

test('options map onto the graftd command line', () => {
  assert.deepEqual(
    serverArgv({ dataDir: '-d', httpAddr: 'h:1', raftAddr: 'r:2', id: 'x', learner: true, flags: ['-auth-file', 'u.json'] }),
    ['-haddr', 'h:1', '-raddr', 'r:2', '-id', 'x', '-learner', '-auth-file', 'u.json', '--', '-d'],
  );
});

test('a bad option throws GRAFTD_BAD_CONFIG with the CLI’s one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'graftd-server-'));
  try {
    await assert.rejects(
      startServer({ dataDir: dir, httpAddr: 'nowhere', raftAddr: `${HOST}:12771`, log: silentLog }),
      (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_BAD_CONFIG' && !err.message.includes('\n'),
    );
    await assert.rejects(
      startServer({
        dataDir: dir,
        httpAddr: `${HOST}:11771`,
        raftAddr: `${HOST}:12771`,
        env: { ELECTION_TIMEOUT: 'soon' },
        log: silentLog,
      }),
      (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_BAD_CONFIG' && /ELECTION_TIMEOUT/.test(err.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a one-node server starts in-process, serves the client, and closes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'graftd-server-'));
  try {
    const server = await startServer({
      id: 's0',
      dataDir: join(dir, 's0'),
      httpAddr: `${HOST}:11772`,
      raftAddr: `${HOST}:12772`,
      env: { FOUNDING_QUIET: '0' },
      log: silentLog,
    });
    try {
      assert.equal(server.url, `http://${HOST}:11772`);
      await server.whenReady(60_000);
      const client = new GraftdClient({ endpoints: [server.httpAddr] });
      try {
        await client.set({ k: 'v' });
        assert.equal(await client.get('k'), 'v');
      } finally {
        await client.close();
      }
    } finally {
      await server.close();
    }
    assert.deepEqual(await server.stopped, { reason: 'closed' });
    await server.close(); // idempotent
    // The addresses are free again: the same node restarts from its data.
    const again = await startServer({
      id: 's0',
      dataDir: join(dir, 's0'),
      httpAddr: `${HOST}:11772`,
      raftAddr: `${HOST}:12772`,
      log: silentLog,
    });
    await again.whenReady(60_000);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
