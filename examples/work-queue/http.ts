/**
 * The work queue's own small HTTP API (node:http, JSON in and out).
 *
 * Why its own front and not graftd's: the generic node brings no client protocol; an application
 * answers its own requests. Any node serves every request: writes go through `node.propose()`,
 * which a follower forwards to the leader over the raft connection, and reads through
 * `node.read(level, fn)`. Errors are `{"error","code"}` with the node's HTTP status (503 = not
 * done, retry; 504 = outcome unknown, retry with the same requestId/claimId).
 *
 *   POST /enqueue {"payload": "...", "requestId"?: "..."}  → {"id", "duplicate", "requestId"}
 *   POST /claim   {"claimId"?: "..."}                      → {"item": {"id","payload"} | null, "claimId", "duplicate"}
 *   POST /ack     {"id": 3, "claimId": "..."}              → {"outcome": "done"} | 404 QUEUE_ITEM_GONE | 409 QUEUE_NOT_YOURS
 *   POST /release {"id": 3, "claimId": "..."}              → the same as /ack
 *   GET  /stats[?level=linearizable|lease|stale]           → {"ready", "claimed", "nextId"}
 *   GET  /items[?level=...&limit=100]                      → {"ready": [...], "claimed": [...]}
 *   GET  /status                                           → the node's status (role, leader, indexes, members)
 *   GET  /healthz                                          → {"ok": true}
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { BadCommandError, type QueueCommand, type QueueResult, encodeCommand, validateCommand } from './commands.ts';
import type { RaftNode } from './graftd.ts';
import type { QueueMachine } from './machine.ts';

/** Largest request body read (a payload is at most 64 Ki characters). */
const MAX_BODY_BYTES = 1024 * 1024;
const LEVELS = ['linearizable', 'lease', 'stale'] as const;
type Level = (typeof LEVELS)[number];
const MAX_LIST = 10_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function createQueueServer(node: RaftNode<QueueMachine>): Server {
  return createServer((req, res) => {
    handle(node, req, res).catch((err: unknown) => sendError(res, err));
  });
}

async function handle(node: RaftNode<QueueMachine>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'POST /enqueue': {
      const body = await readJson(req);
      const requestId = typeof body.requestId === 'string' ? body.requestId : randomUUID();
      const r = await propose(node, { op: 'enqueue', requestId, payload: body.payload });
      return send(res, 200, { ...r, requestId });
    }
    case 'POST /claim': {
      const body = await readJson(req);
      const claimId = typeof body.claimId === 'string' ? body.claimId : randomUUID();
      const r = await propose(node, { op: 'claim', claimId });
      return send(res, 200, { ...r, claimId });
    }
    case 'POST /ack':
    case 'POST /release': {
      const body = await readJson(req);
      const r = await propose(node, { op: url.pathname.slice(1), id: body.id, claimId: body.claimId });
      if (r.op !== 'ack' && r.op !== 'release') throw unexpected(r);
      if (r.outcome === 'gone')
        throw new HttpError(404, 'QUEUE_ITEM_GONE', `item ${String(body.id)} is not in the queue (acknowledged already?)`);
      if (r.outcome === 'not-yours')
        throw new HttpError(409, 'QUEUE_NOT_YOURS', `item ${String(body.id)} is not held by claim ${String(body.claimId)}`);
      return send(res, 200, { outcome: r.outcome });
    }
    case 'GET /stats':
      return send(res, 200, await node.read(level(url), (sm) => sm.queue.stats()));
    case 'GET /items': {
      const limit = Number(url.searchParams.get('limit') ?? '100');
      if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_LIST)
        throw new HttpError(400, 'QUEUE_BAD_REQUEST', `limit must be a whole number from 0 to ${MAX_LIST}`);
      // The function runs synchronously against the state; list() copies what it returns.
      return send(res, 200, await node.read(level(url), (sm) => sm.queue.list(limit)));
    }
    case 'GET /status':
      return send(res, 200, node.status());
    case 'GET /healthz':
      return send(res, 200, { ok: true });
    default:
      throw new HttpError(404, 'QUEUE_NOT_FOUND', `no route ${route}`);
  }
}

/** Validate here (so a bad request is a 400 and never reaches the log), then replicate. */
async function propose(node: RaftNode<QueueMachine>, fields: Record<string, unknown>): Promise<QueueResult> {
  let cmd: QueueCommand;
  try {
    cmd = validateCommand(fields);
  } catch (err) {
    if (err instanceof BadCommandError) throw new HttpError(400, 'QUEUE_BAD_REQUEST', err.message);
    throw err;
  }
  const result = await node.propose(encodeCommand(cmd));
  if (result.op === 'rejected') throw unexpected(result);
  return result;
}

function unexpected(r: QueueResult): HttpError {
  return new HttpError(500, 'QUEUE_INTERNAL', `unexpected result ${JSON.stringify(r)}`);
}

function level(url: URL): Level {
  const raw = url.searchParams.get('level') ?? 'linearizable';
  if (!(LEVELS as readonly string[]).includes(raw))
    throw new HttpError(400, 'QUEUE_BAD_REQUEST', `level must be one of ${LEVELS.join(', ')}`);
  return raw as Level;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'QUEUE_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'QUEUE_BAD_REQUEST', 'the body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HttpError(400, 'QUEUE_BAD_REQUEST', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The node's coded errors keep their status (GraftdError.httpStatus); anything else is a 500. */
function sendError(res: ServerResponse, err: unknown): void {
  const e = err as { status?: unknown; httpStatus?: unknown; code?: unknown; message?: unknown };
  const status = err instanceof HttpError ? err.status : typeof e.httpStatus === 'number' ? e.httpStatus : 500;
  const code = typeof e.code === 'string' ? e.code : 'QUEUE_INTERNAL';
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (status === 503) res.setHeader('retry-after', '1');
  send(res, status, { error: typeof e.message === 'string' ? e.message : String(err), code });
}
