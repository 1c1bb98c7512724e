/**
 * The receiving side of fwd frames: a follower sends a request for the leader (a write's command,
 * a read-index request) as one fwd frame on its message connection; this hands it to the node and
 * answers with one fwdResp frame carrying the result or the coded error.
 *
 * Why its own module (issue 12): PeerServer (server.ts) is about connections — handshake, limits,
 * frames; what a fwd frame asks for, how many may be in progress per connection, and how an error
 * becomes an answer are a protocol of their own, the counterpart of the sending side in
 * fwd-calls.ts. Bounded: at most `maxInflight` requests per connection are being served; more are
 * answered GRAFTD_PROPOSAL_DROPPED (no effect) at once.
 */
import { GraftdError, errorStatus } from '../errors.ts';
import type { NodeId } from '../raft/types.ts';
import { decodeFwd, encodeFwdResp } from './codec.ts';
import { FrameKind, encodeFrame } from './frame.ts';
import type { ForwardResult } from './types.ts';

/** The node's handler of one forwarded request (ServerHandlers.onForward). */
export type FwdHandler = (from: NodeId, data: Uint8Array) => Promise<ForwardResult>;

/** The answer for a handler error: its code and status when coded, else an internal error. */
export function fwdErrorResult(err: unknown): ForwardResult {
  if (err instanceof GraftdError) {
    const leader = (err as { leader?: unknown }).leader;
    return {
      ok: false,
      code: err.code,
      message: err.message,
      httpStatus: err.httpStatus,
      leader: typeof leader === 'string' ? leader : '',
    };
  }
  return {
    ok: false,
    code: 'GRAFTD_INTERNAL',
    message: `internal error: ${err instanceof Error ? err.message : String(err)}`,
    httpStatus: errorStatus.GRAFTD_INTERNAL,
    leader: '',
  };
}

/** The fwd requests of one inbound message connection from peer `from`. */
export class FwdIntake {
  readonly #from: NodeId;
  readonly #nodeId: NodeId;
  readonly #maxInflight: number;
  readonly #handler: FwdHandler | undefined;
  readonly #write: (frame: Buffer) => void;
  #inflight = 0;

  /** `write` sends a frame back on the connection (a no-op once it is closed). */
  constructor(o: { from: NodeId; nodeId: NodeId; maxInflight: number; handler: FwdHandler | undefined; write: (frame: Buffer) => void }) {
    this.#from = o.from;
    this.#nodeId = o.nodeId;
    this.#maxInflight = o.maxInflight;
    this.#handler = o.handler;
    this.#write = o.write;
  }

  /** Requests being served now. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Serve the fwd frame `payload`; throws GRAFTD_CORRUPT (the connection's protocol error) when it does not decode. */
  onFrame(payload: Buffer): void {
    const { reqId, data } = decodeFwd(payload);
    const answer = (r: ForwardResult): void => this.#write(encodeFrame(FrameKind.fwdResp, encodeFwdResp(reqId, r)));
    const handler = this.#handler;
    if (handler === undefined) {
      answer(refusal('GRAFTD_NO_LEADER', `node ${this.#nodeId} does not accept forwarded writes`));
      return;
    }
    if (this.#inflight >= this.#maxInflight) {
      answer(
        refusal(
          'GRAFTD_PROPOSAL_DROPPED',
          `proposal dropped: ${this.#inflight} writes forwarded by ${this.#from} are in progress (limit ${this.#maxInflight})`,
        ),
      );
      return;
    }
    this.#inflight++;
    let p: Promise<ForwardResult>;
    try {
      p = handler(this.#from, data);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(answer, (err: unknown) => answer(fwdErrorResult(err))).finally(() => this.#inflight--);
  }
}

function refusal(code: 'GRAFTD_NO_LEADER' | 'GRAFTD_PROPOSAL_DROPPED', message: string): ForwardResult {
  return { ok: false, code, message, httpStatus: errorStatus[code], leader: '' };
}
