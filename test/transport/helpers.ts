/** Shared helpers for the transport tests: nodes on 127.0.0.2x, message builders, polling. */
import { recordingLog } from '../../src/log.ts';
import type { Entry, Message, MessageType } from '../../src/raft/types.ts';
import { createTransport } from '../../src/transport/index.ts';
import type { Transport, TransportOptions } from '../../src/transport/index.ts';

export interface TestNode {
  readonly id: string;
  readonly addr: string;
  readonly t: Transport;
  readonly received: Message[];
  readonly unreachable: string[];
  readonly log: ReturnType<typeof recordingLog>;
}

export function node(id: string, addr: string, overrides: Partial<TransportOptions> = {}): TestNode {
  const received: Message[] = [];
  const unreachable: string[] = [];
  const log = recordingLog();
  const host = addr.slice(0, addr.lastIndexOf(':'));
  const t = createTransport({
    clusterId: 'test-cluster',
    nodeId: id,
    listenAddr: addr,
    bindHost: host,
    onMessage: (m) => received.push(m),
    onSnapshot: async (_m, data) => {
      for await (const _ of data) {
        // drain
      }
    },
    onUnreachable: (peer) => unreachable.push(peer),
    log,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    ...overrides,
  });
  return { id, addr, t, received, unreachable, log };
}

export function msg(from: string, to: string, type: MessageType, extra: Partial<Message> = {}): Message {
  return {
    type,
    from,
    to,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: '',
    snapshot: null,
    ...extra,
  };
}

export function entries(first: number, n: number, size: number): Entry[] {
  return Array.from({ length: n }, (_, i) => {
    const data = new Uint8Array(size);
    for (let j = 0; j < size; j++) data[j] = (first + i + j * 31) & 0xff;
    return { index: first + i, term: 2, type: i % 5 === 4 ? 'conf' : 'normal', data } as Entry;
  });
}

/** Poll `pred` every 10 ms; reject with `what` after `timeoutMs`. */
export async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
