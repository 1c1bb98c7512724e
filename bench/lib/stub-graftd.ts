/**
 * A stand-in for bin/graftd with the same command line, serving the real HTTP layer
 * (src/http) over an in-memory node without raft: node0 leads, the others follow and forward.
 *
 * Why: measures the HTTP layer alone (an upper bound for graftd's HTTP throughput, and what
 * the HTTP profile is taken on) and lets the benchmark run before the runtime exists.
 * Run: `npm run bench -- --graftd-bin bench/lib/stub-graftd.ts`.
 */
import { parseArgs } from 'node:util';
import { createHttpServer } from '../../src/http/index.ts';
import { createLogger } from '../../src/log.ts';
import { FakeNode } from '../../test/http/fake-node.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { id: { type: 'string' }, haddr: { type: 'string' }, raddr: { type: 'string' }, join: { type: 'string' } },
  args: process.argv.slice(2).map((a) => (/^-[a-z]{2,}$/.test(a) ? `-${a}` : a)),
});
if (values.id === undefined || values.haddr === undefined || positionals.length !== 1) {
  console.error('usage: stub-graftd -id ID -haddr HOST:PORT [-raddr HOST:PORT] [-join HOST:PORT] DATA_DIR');
  process.exit(1);
}
const leaderAddr = values.join ?? values.haddr;
const node = new FakeNode({
  id: values.id,
  role: values.join === undefined ? 'leader' : 'follower',
  leaderId: 'node0',
  leaderHttpAddr: leaderAddr,
});
const app = await createHttpServer({ node, log: createLogger(values.id) });
const [host, port] = [values.haddr.slice(0, values.haddr.lastIndexOf(':')), Number(values.haddr.slice(values.haddr.lastIndexOf(':') + 1))];
await app.listen({ host, port });
if (values.join !== undefined) {
  const res = await fetch(`http://${values.join}/join`, {
    method: 'POST',
    body: JSON.stringify({ id: values.id, addr: values.raddr ?? '', httpAddr: values.haddr }),
  });
  if (res.status !== 200) throw new Error(`join failed: ${res.status} ${await res.text()}`);
} else {
  node.members = [{ id: values.id, raftAddr: values.raddr ?? '', httpAddr: values.haddr, voter: true }];
}
// The leader's member list is what /status reports; followers mirror it for the bench's readiness check.
if (values.join !== undefined) {
  const poll = setInterval(async () => {
    try {
      const s = (await (await fetch(`http://${leaderAddr}/status`)).json()) as { members: FakeNode['members'] };
      node.members = s.members;
    } catch {}
  }, 200);
  poll.unref();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    app.close().then(() => process.exit(0));
  });
}
