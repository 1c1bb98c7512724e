/**
 * The sending side of fwd frames (requests a follower forwards to the leader over the raft
 * transport: writes' commands, read-index requests) awaiting their fwdResp answer on one peer
 * link: request ids, the frames not yet written, per-request timeouts, and the outcome rules. The
 * receiving side is fwd-intake.ts; the HTTP relay to the leader is src/http/leader-relay.ts.
 *
 * Why the "written" distinction: the chaos checker must know whether a failed write could have
 * had an effect. A frame that was never handed to a connected socket provably did not reach the
 * leader (→ 503 GRAFTD_NO_LEADER, no effect); once written, a lost connection or a missing answer
 * leaves the outcome unknown (→ 504 GRAFTD_TIMEOUT). Bounded: at most `maxInflight` calls.
 */
import { GraftdError, ProposalDroppedError, TimeoutError } from '../errors.ts';
import type { NodeId } from '../raft/types.ts';
import { encodeFwd } from './codec.ts';
import { FrameKind, encodeFrame } from './frame.ts';
import type { ForwardResult } from './types.ts';

interface Call {
  readonly reqId: number;
  /** The encoded frame until it is written; null afterwards. */
  frame: Buffer | null;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (r: ForwardResult) => void;
  readonly reject: (err: Error) => void;
}

/** The in-flight forwarded writes of one peer link. */
export class FwdCalls {
  readonly #peer: NodeId;
  readonly #maxInflight: number;
  readonly #timeoutMs: number;
  readonly #calls = new Map<number, Call>();
  /** Calls whose frame is not written yet, oldest first (entries may already be settled). */
  #unsent: Call[] = [];
  #nextId = 1;

  constructor(peer: NodeId, maxInflight: number, timeoutMs: number) {
    this.#peer = peer;
    this.#maxInflight = maxInflight;
    this.#timeoutMs = timeoutMs;
  }

  /** Calls awaiting an answer (written or not). */
  get size(): number {
    return this.#calls.size;
  }

  /** True when some frame waits to be written. */
  get hasUnsent(): boolean {
    return this.#unsent.length > 0;
  }

  /** Register a call; its frame waits for `takeUnsent`. Rejects at once (not sent) when the bound is reached. */
  start(data: Uint8Array): Promise<ForwardResult> {
    if (this.#calls.size >= this.#maxInflight) {
      return Promise.reject(
        new ProposalDroppedError(`${this.#calls.size} writes are already being forwarded to ${this.#peer} (limit ${this.#maxInflight})`),
      );
    }
    const reqId = this.#nextId++;
    if (this.#nextId >= Number.MAX_SAFE_INTEGER) this.#nextId = 1;
    return new Promise<ForwardResult>((resolve, reject) => {
      const timer = setTimeout(() => this.#expire(reqId), this.#timeoutMs);
      const call: Call = { reqId, frame: encodeFrame(FrameKind.fwd, encodeFwd(reqId, data)), timer, resolve, reject };
      this.#calls.set(reqId, call);
      this.#unsent.push(call);
    });
  }

  /** Frames to write now, oldest first; each counts as sent from here on (the caller writes them all to the socket). */
  takeUnsent(): Buffer[] {
    const out: Buffer[] = [];
    for (const call of this.#unsent) {
      if (call.frame === null || !this.#calls.has(call.reqId)) continue;
      out.push(call.frame);
      call.frame = null;
    }
    this.#unsent = [];
    return out;
  }

  /** The leader answered `reqId`; answers to unknown (expired) ids are ignored. */
  answer(reqId: number, result: ForwardResult): void {
    const call = this.#calls.get(reqId);
    if (call === undefined) return;
    this.#settle(call);
    call.resolve(result);
  }

  /** The connection is gone: unsent calls fail as not sent, sent ones with an unknown outcome. */
  failAll(reason: string): void {
    const calls = [...this.#calls.values()];
    this.#unsent = [];
    for (const call of calls) {
      this.#settle(call);
      call.reject(
        call.frame !== null
          ? notSent(this.#peer, reason)
          : new GraftdError(
              'GRAFTD_TIMEOUT',
              `write forwarded to the leader ${this.#peer}, then the connection was lost (${reason}); the outcome is unknown (it may still be applied)`,
            ),
      );
    }
  }

  #expire(reqId: number): void {
    const call = this.#calls.get(reqId);
    if (call === undefined) return;
    this.#settle(call);
    call.reject(
      call.frame !== null
        ? notSent(this.#peer, `the connection could not take it within ${this.#timeoutMs} ms`)
        : new TimeoutError(`write forwarded to the leader ${this.#peer}`, this.#timeoutMs),
    );
  }

  #settle(call: Call): void {
    clearTimeout(call.timer);
    this.#calls.delete(call.reqId);
  }
}

/** The definite failure of a forward that never reached a connected socket. */
export function notSent(peer: NodeId, reason: string): GraftdError {
  return new GraftdError('GRAFTD_NO_LEADER', `could not forward the write to the leader ${peer} (${reason}); not sent, retry`);
}
