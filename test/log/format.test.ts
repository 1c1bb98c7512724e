/**
 * Logging: LOG_FORMAT (json|pretty, pretty by default on a terminal), level names and ISO times in
 * both formats, and errFields keeping the errno/code that undici's "fetch failed" hides in `cause`.
 * A refused connection on 127.0.0.149.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetch } from 'undici';
import { createLogger, errFields, logFormat, prettyLine } from '../../src/log.ts';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('LOG_FORMAT: pretty on a terminal, json otherwise, explicit values win, others refused', () => {
  assert.equal(logFormat({}, true), 'pretty');
  assert.equal(logFormat({}, false), 'json');
  assert.equal(logFormat({ LOG_FORMAT: 'json' }, true), 'json');
  assert.equal(logFormat({ LOG_FORMAT: 'Pretty' }, false), 'pretty');
  assert.throws(() => logFormat({ LOG_FORMAT: 'xml' }, false), /LOG_FORMAT must be json or pretty/);
});

test('json lines carry level names and ISO times', () => {
  const lines: string[] = [];
  const log = createLogger('n1', 'debug', 'json', { write: (l: string) => lines.push(l) });
  log.debug({ a: 1 }, 'dbg');
  log.warn({ reason: 'lost quorum (CheckQuorum)' }, 'stepped down');
  const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    recs.map((r) => r.level),
    ['debug', 'warn'],
  );
  for (const r of recs) {
    assert.match(String(r.time), ISO);
    assert.equal(r.node, 'n1');
  }
  assert.equal(recs[1]!.reason, 'lost quorum (CheckQuorum)');
});

test('pretty lines: time, level name, node, message, then the fields', () => {
  const lines: string[] = [];
  const log = createLogger('n1', 'info', 'pretty', { write: (l: string) => lines.push(l) });
  log.debug({}, 'hidden at info');
  log.info({ term: 3, reason: 'higher term 3 from n2 (vote)', peer: 'n2' }, 'stepped down: higher term 3 from n2 (vote)');
  assert.equal(lines.length, 1);
  const line = lines[0]!;
  assert.ok(line.endsWith('\n'));
  const m = /^(\S+) (INFO) +\[n1\] (.*)$/.exec(line.trimEnd());
  assert.ok(m !== null, line);
  assert.match(String(m[1]), ISO);
  assert.equal(m[3], 'stepped down: higher term 3 from n2 (vote) term=3 reason="higher term 3 from n2 (vote)" peer=n2');
  assert.ok(!line.includes('\u001b['), 'no colours when not writing to a terminal');
  assert.ok(prettyLine(JSON.stringify({ level: 'error', msg: 'x' }), true).includes('\u001b[31mERROR'), 'red errors on a terminal');
  assert.equal(prettyLine('not json\n'), 'not json\n', 'anything else passes through');
});

test("errFields keeps the code and errno that undici's fetch failure hides in its cause", async () => {
  let caught: unknown;
  try {
    await fetch('http://127.0.0.149:39999/status', { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error);
  assert.equal(caught.message, 'fetch failed', 'the message alone hides the cause');
  const f = errFields(caught);
  assert.equal(f.code, 'ECONNREFUSED');
  assert.equal(typeof f.errno, 'number');
  assert.match(f.err, /^fetch failed: .*ECONNREFUSED/);
  assert.deepEqual(errFields('plain'), { err: 'plain' });
  const coded = Object.assign(new Error('outer'), { code: 'GRAFTD_X', cause: Object.assign(new Error('inner'), { code: 'EACCES' }) });
  assert.deepEqual(errFields(coded), { err: 'outer: inner', code: 'EACCES' });
});

test('a join that cannot connect logs the code (ECONNREFUSED) as a field, not just a message', async () => {
  const { discoverCluster } = await import('../../src/cli/join.ts');
  const { recordingLog } = await import('../../src/log.ts');
  const log = recordingLog();
  await assert.rejects(discoverCluster('127.0.0.149:39998', { totalTimeoutMs: 300, minDelayMs: 20, maxDelayMs: 50, log }), /ECONNREFUSED/);
  const warn = log.records.find((r) => r.level === 'warn');
  assert.ok(warn !== undefined, 'the first failed attempt is logged');
  const obj = warn.obj as { code?: string; errno?: number; err?: string };
  assert.equal(obj.code, 'ECONNREFUSED');
  assert.equal(typeof obj.errno, 'number');
  assert.match(String(obj.err), /ECONNREFUSED/);
});
