/**
 * The optional request log (LOG_REQUESTS=1): one line per answered request with method, URL
 * (credential-like query values redacted), status, duration and remote address; off by default.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordingLog } from '../../src/log.ts';
import { redactUrl, requestLogEnabled } from '../../src/http/request-log.ts';
import { makeServer } from './helpers.ts';

test('LOG_REQUESTS switches the request log on; off by default', () => {
  assert.equal(requestLogEnabled({}), false);
  assert.equal(requestLogEnabled({ LOG_REQUESTS: '0' }), false);
  for (const v of ['1', 'true', 'YES', 'on']) assert.equal(requestLogEnabled({ LOG_REQUESTS: v }), true);
});

test('credential-like query values are redacted, the rest of the URL kept', () => {
  assert.equal(redactUrl('/key/a'), '/key/a');
  assert.equal(
    redactUrl('/key/a?level=stale&token=abc&password=x&api_key=k'),
    '/key/a?level=stale&token=REDACTED&password=REDACTED&api_key=REDACTED',
  );
  assert.equal(redactUrl('/status?flag'), '/status?flag');
});

test('each answered request is logged with method, url, status, ms and remote; nothing when off', async () => {
  const log = recordingLog();
  const on = await makeServer(undefined, { log, logRequests: true });
  await on.app.inject({ url: '/key/zzz?token=s3cret', remoteAddress: '127.0.0.9' });
  await on.app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' });
  const lines = log.records.filter((r) => r.msg === 'request').map((r) => r.obj as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.method, 'GET');
  assert.equal(lines[0]!.url, '/key/zzz?token=REDACTED');
  assert.equal(lines[0]!.status, 404);
  assert.equal(typeof lines[0]!.ms, 'number');
  assert.match(String(lines[0]!.remote), /^127\.0\.0\.9:/);
  assert.equal(lines[1]!.method, 'POST');
  assert.equal(lines[1]!.status, 200);
  assert.doesNotMatch(JSON.stringify(log.records), /s3cret/);
  await on.app.close();

  const quiet = recordingLog();
  const off = await makeServer(undefined, { log: quiet, logRequests: false });
  await off.app.inject({ url: '/key/zzz' });
  assert.equal(quiet.records.filter((r) => r.msg === 'request').length, 0);
  await off.app.close();
});
