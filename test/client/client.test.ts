/**
 * GraftdClient's retry and outcome rules against scripted HTTP servers on loopback:
 * what is retried (refused, 503), what never is for writes (504, a dropped connection after
 * sending), and leader following. Real graftd processes are used in test/ops.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { GraftdClient, GraftdClientError } from '../../src/client/index.ts';

const IP = '127.0.0.53';
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Fake {
  readonly endpoint: string;
  readonly requests: string[];
  handler: Handler;
  close(): Promise<void>;
}

async function fake(port: number, handler: Handler): Promise<Fake> {
  const requests: string[] = [];
  const state = { handler };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (s: string) => {
      body += s;
    });
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      state.handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, IP, resolve));
  const address = server.address() as AddressInfo;
  return {
    endpoint: `${IP}:${address.port}`,
    requests,
    get handler() {
      return state.handler;
    },
    set handler(h: Handler) {
      state.handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === '' ? '' : JSON.stringify(body));
}

const FAST = { timeoutMs: 2000, retries: 4, backoffBaseMs: 5, backoffMaxMs: 20 };

test('get: value, undefined on 404 KEY_NOT_FOUND, error on other 404s; keys are URL-encoded', async () => {
  const server = await fake(19010, (req, res) => {
    if (req.url === '/key/a%2Fb%20c?level=stale') return reply(res, 200, { 'a/b c': 'v' });
    if (req.url === '/key/missing') return reply(res, 404, { error: 'key not found', code: 'GRAFTD_KEY_NOT_FOUND' });
    return reply(res, 404, { error: 'no route', code: 'GRAFTD_ROUTE_NOT_FOUND' });
  });
  const client = new GraftdClient({ endpoints: [server.endpoint], ...FAST });
  try {
    assert.equal(await client.get('a/b c', 'stale'), 'v');
    assert.equal(await client.get('missing'), undefined);
    await assert.rejects(client.get('other'), (err: GraftdClientError) => {
      assert.equal(err.code, 'GRAFTD_ROUTE_NOT_FOUND');
      assert.equal(err.status, 404);
      assert.equal(err.outcomeUnknown, false);
      return true;
    });
  } finally {
    await client.close();
    await server.close();
  }
});

test('a refused endpoint and 503 NO_LEADER are retried on the next endpoint; writes then succeed', async () => {
  let noLeader = 2;
  const server = await fake(19011, (_req, res) => {
    if (noLeader-- > 0) return reply(res, 503, { error: 'no leader', code: 'GRAFTD_NO_LEADER' }, { 'retry-after': '1' });
    return reply(res, 200, '');
  });
  const client = new GraftdClient({ endpoints: [`${IP}:19012`, server.endpoint], ...FAST });
  try {
    await client.set({ a: '1' });
    assert.deepEqual(server.requests, ['POST /key', 'POST /key', 'POST /key']);
  } finally {
    await client.close();
    await server.close();
  }
});

test('writes are never retried after an outcome-unknown answer (504, dropped connection); reads are', async () => {
  const server = await fake(19013, (req, res) => {
    if (req.url === '/key' && req.method === 'POST') return reply(res, 504, { error: 'timed out', code: 'GRAFTD_TIMEOUT' });
    if (req.method === 'DELETE') {
      res.socket?.destroy();
      return;
    }
    reply(res, 200, { k: 'v' });
  });
  const second = await fake(19014, (_req, res) => reply(res, 200, { k: 'v' }));
  const client = new GraftdClient({ endpoints: [server.endpoint, second.endpoint], ...FAST });
  try {
    await assert.rejects(client.set({ k: 'v' }), (err: GraftdClientError) => {
      assert.ok(err instanceof GraftdClientError);
      assert.equal(err.code, 'GRAFTD_TIMEOUT');
      assert.equal(err.status, 504);
      assert.equal(err.outcomeUnknown, true);
      return true;
    });
    await assert.rejects(client.del('k'), (err: GraftdClientError) => {
      assert.equal(err.code, 'GRAFTD_CLIENT_CONNECTION_LOST');
      assert.equal(err.outcomeUnknown, true);
      return true;
    });
    assert.deepEqual(server.requests, ['POST /key', 'DELETE /key/k']);
    assert.deepEqual(second.requests, [], 'no write went to the second endpoint');

    server.handler = (_req, res) => {
      res.socket?.destroy();
    };
    assert.equal(await client.get('k'), 'v', 'a read is retried elsewhere');
    assert.deepEqual(second.requests, ['GET /key/k']);
  } finally {
    await client.close();
    await server.close();
    await second.close();
  }
});

test('a timeout after sending is outcome unknown for writes', async () => {
  const server = await fake(19015, () => {
    // never answers
  });
  const client = new GraftdClient({ endpoints: [server.endpoint], ...FAST, timeoutMs: 200 });
  try {
    await assert.rejects(client.set({ k: 'v' }), (err: GraftdClientError) => {
      assert.equal(err.code, 'GRAFTD_CLIENT_TIMEOUT');
      assert.equal(err.outcomeUnknown, true);
      return true;
    });
    assert.equal(server.requests.length, 1);
  } finally {
    await client.close();
    await server.close();
  }
});

test('4xx is surfaced with its code and not retried; 409 change-in-progress is retried for membership', async () => {
  let conflicts = 2;
  const server = await fake(19016, (req, res) => {
    if (req.url === '/key') return reply(res, 400, { error: 'bad key', code: 'GRAFTD_INVALID_KEY' });
    if (req.url === '/join' && conflicts-- > 0) return reply(res, 409, { error: 'busy', code: 'GRAFTD_CONF_CHANGE_IN_PROGRESS' });
    if (req.url === '/join') return reply(res, 200, '');
    return reply(res, 500, 'not json at all');
  });
  const client = new GraftdClient({ endpoints: [server.endpoint], ...FAST });
  try {
    await assert.rejects(client.set({ '': 'v' }), { code: 'GRAFTD_INVALID_KEY', status: 400, outcomeUnknown: false });
    await client.join('n9', '127.0.0.1:1', { httpAddr: '127.0.0.1:2', learner: true });
    assert.deepEqual(server.requests.filter((r) => r === 'POST /join').length, 3);
    await assert.rejects(client.remove('n9'), { code: 'GRAFTD_CLIENT_BAD_RESPONSE', status: 500, outcomeUnknown: true });
  } finally {
    await client.close();
    await server.close();
  }
});

test('the client follows the leader named in answers (X-Graftd-Leader + member addresses from /status)', async () => {
  const leader = await fake(19017, (_req, res) => reply(res, 200, '', { 'x-graftd-node': 'L', 'x-graftd-leader': 'L' }));
  const follower = await fake(19018, (req, res) => {
    if (req.url === '/status') {
      return reply(res, 200, {
        id: 'F',
        role: 'follower',
        leaderId: 'L',
        leaderHttpAddr: leader.endpoint,
        members: [
          { id: 'F', raftAddr: `${IP}:19118`, httpAddr: `${IP}:19018`, voter: true },
          { id: 'L', raftAddr: `${IP}:19117`, httpAddr: `0.0.0.0:19017`, voter: true },
        ],
        progress: {},
      });
    }
    reply(res, 200, '', { 'x-graftd-node': 'L', 'x-graftd-leader': 'L', 'x-graftd-forwarded-by': 'F' });
  });
  const client = new GraftdClient({ endpoints: [follower.endpoint], ...FAST });
  try {
    const members = await client.members();
    assert.deepEqual(
      members.map((m) => m.id),
      ['F', 'L'],
    );
    assert.deepEqual(client.knownLeader(), { id: 'L', endpoint: leader.endpoint });
    await client.set({ a: '1' });
    await client.set({ b: '2' });
    assert.deepEqual(leader.requests, ['GET /status', 'POST /key', 'POST /key']);
    assert.deepEqual(follower.requests, ['GET /status']);
  } finally {
    await client.close();
    await leader.close();
    await follower.close();
  }
});

test('a reset before the server read the request is provably not applied: a write moves on to the next endpoint', async () => {
  // A TCP server that never reads (pauseOnConnect): closing a socket with unread data makes the kernel send a reset.
  const sockets: Socket[] = [];
  const resetter = createTcpServer({ pauseOnConnect: true }, (socket) => {
    sockets.push(socket);
    setTimeout(() => socket.destroy(), 50);
  });
  await new Promise<void>((resolve) => resetter.listen(19019, IP, resolve));
  const good = await fake(19009, (_req, res) => reply(res, 200, ''));
  const client = new GraftdClient({ endpoints: [`${IP}:19019`, good.endpoint], ...FAST });
  try {
    await client.set({ k: 'v' });
    assert.equal(sockets.length, 1, 'the first endpoint was tried');
    assert.deepEqual(good.requests, ['POST /key'], 'then the write went to the next one');
    assert.deepEqual(client.stats(), { requests: 1, attempts: 2, notSent: 1, retriedAnswers: 0 });
  } finally {
    await client.close();
    await good.close();
    await new Promise<void>((resolve) => resetter.close(() => resolve()));
  }
});
