/**
 * The work queue as a graftd state machine: the adapter between the generic raft node's
 * StateMachine contract (bytes in, result out, snapshot streams) and the plain WorkQueue class.
 *
 * Why an adapter: WorkQueue knows nothing of raft and is tested as ordinary code; this file only
 * decodes commands, encodes results for forwarded proposals, and swaps the whole queue when a
 * snapshot is installed (restore() builds a detached queue; install() replaces the reference).
 */
import { GraftdError, type PreparedRestore, type StateMachine } from './graftd.ts';
import { BadCommandError, type QueueResult, decodeCommand, decodeResult, encodeResult } from './commands.ts';
import { WorkQueue } from './queue.ts';
import { readQueueSnapshot, writeQueueSnapshot } from './snapshot.ts';

export class QueueMachine implements StateMachine<QueueResult> {
  /** The live queue. Replaced (never mutated from outside) when a snapshot is installed. */
  #queue = new WorkQueue();

  /** The current queue, for read functions passed to RaftNode.read(). Do not mutate it. */
  get queue(): WorkQueue {
    return this.#queue;
  }

  apply(command: Uint8Array, _index: number): QueueResult {
    let cmd: ReturnType<typeof decodeCommand>;
    try {
      cmd = decodeCommand(command);
    } catch (err) {
      // Cannot happen for commands this program proposed (validated first), but a log is forever:
      // answer the same deterministic result on every node rather than throw.
      return { op: 'rejected', reason: (err as Error).message };
    }
    return this.#queue.apply(cmd);
  }

  snapshot(): AsyncIterable<Uint8Array> {
    return writeQueueSnapshot(this.#queue);
  }

  async restore(chunks: AsyncIterable<Uint8Array>): Promise<PreparedRestore> {
    let restored: WorkQueue;
    try {
      restored = await readQueueSnapshot(chunks);
    } catch (err) {
      throw new GraftdError('GRAFTD_CORRUPT', (err as Error).message, { cause: err });
    }
    return {
      install: () => {
        this.#queue = restored;
      },
    };
  }

  /** Forwarded commands come from the network: refuse malformed ones before they reach the log. */
  validate(command: Uint8Array): void {
    try {
      decodeCommand(command);
    } catch (err) {
      if (err instanceof BadCommandError) throw new GraftdError('GRAFTD_INVALID_BODY', err.message);
      throw err;
    }
  }

  readonly results = { encode: encodeResult, decode: decodeResult };

  describe(): Record<string, number> {
    return { ...this.#queue.stats() };
  }
}
