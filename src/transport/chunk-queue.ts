/**
 * The receiving side of a snapshot as an AsyncIterable, with flow control.
 *
 * Why: the consumer (onSnapshot) writes to disk at its own pace. When more than
 * `highWaterBytes` wait here the socket is paused, so TCP backpressure reaches the sender
 * and memory stays bounded; it resumes once the consumer drained half of it.
 */

export class ChunkQueue implements AsyncIterable<Uint8Array> {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  #ended = false;
  #error: Error | null = null;
  #waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: Error) => void } | null = null;
  #paused = false;
  #consumerGone = false;
  #iterated = false;
  readonly #highWaterBytes: number;
  readonly #pause: () => void;
  readonly #resume: () => void;

  constructor(highWaterBytes: number, pause: () => void, resume: () => void) {
    this.#highWaterBytes = highWaterBytes;
    this.#pause = pause;
    this.#resume = resume;
  }

  /** True while the socket should stay paused (the consumer is behind). */
  get paused(): boolean {
    return this.#paused;
  }

  push(chunk: Uint8Array): void {
    if (this.#consumerGone || this.#ended || this.#error !== null) return;
    if (this.#waiter !== null) {
      const w = this.#waiter;
      this.#waiter = null;
      w.resolve({ value: chunk, done: false });
      return;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (!this.#paused && this.#bytes >= this.#highWaterBytes) {
      this.#paused = true;
      this.#pause();
    }
  }

  end(): void {
    if (this.#ended || this.#error !== null) return;
    this.#ended = true;
    this.#settleWaiter();
  }

  fail(error: Error): void {
    if (this.#ended || this.#error !== null) return;
    this.#error = error;
    this.#settleWaiter();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#iterated) throw new Error('a snapshot stream can be read only once');
    this.#iterated = true;
    return {
      next: () => this.#next(),
      return: async () => {
        this.#consumerGone = true;
        this.#chunks = [];
        this.#head = 0;
        this.#bytes = 0;
        this.#unpause();
        return { value: undefined, done: true };
      },
    };
  }

  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#head < this.#chunks.length) {
      const chunk = this.#chunks[this.#head]!;
      this.#chunks[this.#head] = EMPTY;
      this.#head++;
      this.#bytes -= chunk.length;
      if (this.#head === this.#chunks.length) {
        this.#chunks = [];
        this.#head = 0;
      }
      if (this.#paused && this.#bytes <= this.#highWaterBytes / 2) this.#unpause();
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  #unpause(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#resume();
  }

  #settleWaiter(): void {
    const w = this.#waiter;
    if (w === null) return;
    this.#waiter = null;
    if (this.#error !== null) w.reject(this.#error);
    else w.resolve({ value: undefined, done: true });
  }
}

const EMPTY = new Uint8Array(0);
