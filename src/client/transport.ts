/**
 * The client's HTTP/1.1 layer on node:http: one keep-alive agent per client, one request per
 * connection at a time, and, for a request that failed, the phase it failed in.
 *
 * Why node:http and not undici (used before): loading undici took 70-140 ms of every graftctl run
 * — about 40% of a whole `graftctl get` — while node:http is already part of the process.
 *
 * Why phases: attempt.ts decides "not sent" vs "outcome unknown" from where a request failed. The
 * agent hands a request a connection only once connector.ts has it established (and, on TLS 1.3,
 * accepted), so 'connect' — no socket yet — means not one byte of the request was written. Then
 * 'sent' (the request is, or may be, on the wire; no answer yet) and 'answering' (the status line
 * arrived).
 */
import { Agent, type IncomingMessage, request as httpRequest } from 'node:http';
import { type ConnectorOptions, connector } from './connector.ts';

/** Longest answer body read into memory (a streamed body is not counted). Range pages and /status are far smaller. */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** Code of the error raised when an answer body exceeds {@link MAX_ANSWER_BYTES}. */
export const ANSWER_TOO_LARGE_CODE = 'GRAFTD_CLIENT_ANSWER_TOO_LARGE';
/** Code of the error a streamed body fails with after `timeoutMs` without data. */
export const BODY_TIMEOUT_CODE = 'GRAFTD_CLIENT_BODY_TIMEOUT';

/** Options of {@link HttpTransport}. */
export interface TransportOptions extends ConnectorOptions {
  /** Max connections per endpoint (further requests wait for one to be free). */
  readonly connectionsPerEndpoint: number;
  /** How long an idle keep-alive connection is kept. */
  readonly keepAliveTimeoutMs: number;
}

/** One request. */
export interface TransportRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Hand back a 2xx body unread (with an idle timeout of `timeoutMs`) instead of reading it. */
  readonly stream?: boolean;
}

/** An answer: the whole body as `text`, or (streamed 2xx) the unread `body`. */
export interface TransportAnswer {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
  readonly body: IncomingMessage | null;
}

/** Where a request was when it failed (see the module comment). */
export type FailurePhase = 'connect' | 'sent' | 'answering';

/** A request that got no (complete) answer; `cause` is the underlying error. */
export class TransportFailure extends Error {
  readonly phase: FailurePhase;
  /** The attempt's own timeout ended it. */
  readonly timedOut: boolean;
  /** The caller's signal ended it. */
  readonly cancelled: boolean;

  constructor(phase: FailurePhase, cause: unknown, flags: { timedOut: boolean; cancelled: boolean }) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'TransportFailure';
    this.phase = phase;
    this.timedOut = flags.timedOut;
    this.cancelled = flags.cancelled;
  }
}

function coded(code: string, message: string): Error {
  const err = new Error(message);
  (err as Error & { code: string }).code = code;
  return err;
}

function flatten(raw: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** `host:port` or `[v6]:port` → host (no brackets) and port. */
function split(endpoint: string): { host: string; port: number } {
  const colon = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(endpoint.slice(colon + 1)) };
}

export class HttpTransport {
  readonly #agent: Agent;
  /** Requests (and streamed bodies) not finished yet: close() waits for them, like a graceful pool close. */
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(options: TransportOptions) {
    this.#agent = new Agent({
      keepAlive: true,
      // One request per connection at a time: what makes a reset before the answer prove "not read" (attempt.ts).
      maxSockets: options.connectionsPerEndpoint,
      // Idle keep-alive connections are closed after this (the agent also honours a shorter server hint).
      timeout: options.keepAliveTimeoutMs,
      scheduling: 'lifo',
    });
    // The agent calls this to open connections; it is not among the constructor's typed options.
    (this.#agent as unknown as { createConnection: unknown }).createConnection = connector(options);
  }

  /**
   * Send `request` to `endpoint`; resolve with the answer, or reject with a {@link TransportFailure}.
   * `timeoutMs` bounds the whole exchange (a streamed body: until its headers; then each wait for data).
   */
  request(endpoint: string, request: TransportRequest, timeoutMs: number, signal?: AbortSignal): Promise<TransportAnswer> {
    if (this.#closed) return Promise.reject(new TransportFailure('connect', coded('ERR_CLIENT_CLOSED', 'the client is closed'), NONE));
    let release: () => void = () => undefined;
    const tracked = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#inFlight.add(tracked);
    const done = (): void => {
      this.#inFlight.delete(tracked);
      release();
    };
    return new Promise<TransportAnswer>((resolve, reject) => {
      const { host, port } = split(endpoint);
      let phase: FailurePhase = 'connect';
      let settled = false;
      let timedOut = false;
      let cancelled = false;
      const headers: Record<string, string> = { ...request.headers };
      if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
      const outgoing = httpRequest({ agent: this.#agent, host, port, method: request.method, path: request.path, headers });
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', cancel);
      };
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        cleanup();
        done();
        reject(new TransportFailure(phase, err, { timedOut, cancelled }));
        outgoing.destroy();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        fail(coded('ETIMEDOUT_ATTEMPT', `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const cancel = (): void => {
        cancelled = true;
        fail(coded('ABORT_ERR', 'cancelled: the client is closing'));
      };
      if (signal?.aborted === true) queueMicrotask(cancel);
      else signal?.addEventListener('abort', cancel, { once: true });
      // Kept after settling: a late error must not become an uncaught exception.
      outgoing.on('error', fail);
      outgoing.on('socket', () => {
        if (phase === 'connect') phase = 'sent';
      });
      outgoing.on('close', () => fail(coded('ECONNRESET', 'socket hang up')));
      outgoing.on('response', (res) => {
        phase = 'answering';
        const status = res.statusCode ?? 0;
        const answerHeaders = flatten(res.headers);
        res.on('error', fail);
        if (request.stream === true && status >= 200 && status < 300) {
          if (settled) return;
          settled = true;
          cleanup();
          // Idle timeout while the caller reads; the stream then fails with BODY_TIMEOUT_CODE. Through
          // the request, so node removes it when the connection goes back to the pool.
          outgoing.setTimeout(timeoutMs, () => res.destroy(coded(BODY_TIMEOUT_CODE, `no data for ${timeoutMs} ms`)));
          res.once('close', done);
          resolve({ status, headers: answerHeaders, text: '', body: res });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            fail(coded(ANSWER_TOO_LARGE_CODE, `the answer is larger than ${MAX_ANSWER_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          cleanup();
          done();
          resolve({ status, headers: answerHeaders, text: Buffer.concat(chunks).toString('utf8'), body: null });
        });
        res.on('close', () => fail(coded('ECONNRESET', 'aborted')));
      });
      outgoing.end(request.body);
    });
  }

  /** Wait for the requests in flight (and streamed bodies being read), then close every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#inFlight);
    this.#agent.destroy();
  }
}

const NONE = { timedOut: false, cancelled: false } as const;
