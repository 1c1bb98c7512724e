/**
 * src/config.ts: the graftd server's flags and environment variables parsed and validated in one
 * place; a mistake is one readable line (exit 1), never a throw or a silent default.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_JOIN_TIMEOUT_MS, loadServerConfig } from '../src/config.ts';

const argv = ['-id', 'n1', '-haddr', '127.0.0.1:11000', '-raddr', '127.0.0.1:12000', '/tmp/graftd-config-test'];
const localIp = () => '127.0.0.1';

function load(env: Record<string, string>) {
  return loadServerConfig(argv, env, { localIp, tty: false });
}

test('defaults: flags, runtime knobs, join timeout, logging, no test fault', () => {
  const r = load({});
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  assert.equal(r.config.args.id, 'n1');
  assert.equal(r.config.runtime.electionTimeoutMs, 1000);
  assert.equal(r.config.runtime.testFault, '');
  assert.equal(r.config.joinTimeoutMs, DEFAULT_JOIN_TIMEOUT_MS);
  assert.equal(r.config.joinCredentials, undefined);
  assert.equal(r.config.logLevel, 'info');
  assert.equal(r.config.logFormat, 'json');
  assert.equal(r.config.logRequests, false);
});

test('environment values are read and passed on', () => {
  const r = load({
    JOIN_TIMEOUT: '5000',
    GRAFTD_TEST_FAULT: 'stale-linearizable-reads',
    LOG_LEVEL: 'DEBUG',
    LOG_FORMAT: 'pretty',
    LOG_REQUESTS: 'on',
    GRAFTD_USER: 'root',
    GRAFTD_PASSWORD: 'pw',
  });
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  assert.equal(r.config.joinTimeoutMs, 5000);
  assert.equal(r.config.runtime.testFault, 'stale-linearizable-reads');
  assert.equal(r.config.logLevel, 'debug');
  assert.equal(r.config.logFormat, 'pretty');
  assert.equal(r.config.logRequests, true);
  assert.deepEqual(r.config.joinCredentials, { user: 'root', password: 'pw' });
  const t = load({ GRAFTD_TOKEN: 'tok', GRAFTD_USER: 'root', GRAFTD_PASSWORD: 'pw' });
  assert.deepEqual(t.kind === 'run' ? t.config.joinCredentials : undefined, { token: 'tok' });
});

test('a bad value is one line and exit 1, naming the variable', () => {
  for (const [env, re] of [
    [{ JOIN_TIMEOUT: '2m' }, /^JOIN_TIMEOUT must be a whole number of milliseconds/],
    [{ JOIN_TIMEOUT: '0' }, /^JOIN_TIMEOUT/],
    [{ GRAFTD_TEST_FAULT: 'everything' }, /^GRAFTD_TEST_FAULT/],
    [{ ELECTION_TIMEOUT: '150', HEARTBEAT_TIMEOUT: '100' }, /^ELECTION_TIMEOUT/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    [{ LOG_FORMAT: 'xml' }, /^LOG_FORMAT/],
  ] as const) {
    const r = load(env);
    assert.equal(r.kind, 'exit', JSON.stringify(env));
    if (r.kind !== 'exit') continue;
    assert.equal(r.exitCode, 1);
    assert.match(r.text, re);
    assert.ok(!r.text.includes('\n'), r.text);
  }
});

test('flag mistakes and --help come back as they did from parseGraftdArgs', () => {
  const help = loadServerConfig(['--help'], {}, { localIp });
  assert.equal(help.kind === 'exit' ? help.exitCode : -1, 0);
  const bad = loadServerConfig(['-nonsense'], {}, { localIp });
  assert.equal(bad.kind, 'exit');
  assert.notEqual(bad.kind === 'exit' ? bad.exitCode : 0, 0);
});
