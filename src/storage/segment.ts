/**
 * One WAL segment file and the in-memory index of the entries it holds.
 *
 * Why typed arrays: the index has one slot per log entry (a million entries after a long run),
 * so offsets, terms and data lengths are kept in growable typed arrays rather than objects;
 * that keeps recovery fast and the heap small.
 */
import path from 'node:path';
import { assert } from '../errors.ts';

const NAME_DIGITS = 16;
const NAME_RE = /^(\d{16})\.wal$/;

/** File name of the segment whose first entry is `firstIndex`, e.g. 0000000000000001.wal. */
export function segmentFileName(firstIndex: number): string {
  return String(firstIndex).padStart(NAME_DIGITS, '0') + '.wal';
}

/** The first index encoded in a segment file name, or null if `name` is not a segment. */
export function parseSegmentFileName(name: string): number | null {
  const m = NAME_RE.exec(name);
  return m === null ? null : Number(m[1]);
}

const INITIAL_CAPACITY = 1024;

export class Segment {
  readonly firstIndex: number;
  readonly path: string;
  readonly generation: number;
  /** Bytes of valid data in the file (header + complete records); the append position. */
  size: number;
  /** Length of the file: ≥ size, the rest is preallocated zeros. */
  fileSize: number;
  /** Number of entries held; entry firstIndex + k is at offsets[k]. */
  count = 0;
  /** Open descriptor or -1. The active (last) segment keeps one open for appends. */
  fd = -1;
  private offsets: Float64Array;
  private terms: Float64Array;
  private dataLens: Uint32Array;

  constructor(dir: string, firstIndex: number, generation: number, size: number, capacity = INITIAL_CAPACITY) {
    this.firstIndex = firstIndex;
    this.path = path.join(dir, segmentFileName(firstIndex));
    this.generation = generation;
    this.size = size;
    this.fileSize = size;
    const cap = Math.max(16, capacity);
    this.offsets = new Float64Array(cap);
    this.terms = new Float64Array(cap);
    this.dataLens = new Uint32Array(cap);
  }

  /** Index of the last entry, firstIndex - 1 when empty. */
  get lastIndex(): number {
    return this.firstIndex + this.count - 1;
  }

  push(offset: number, term: number, dataLen: number): void {
    if (this.count === this.offsets.length) this.grow();
    this.offsets[this.count] = offset;
    this.terms[this.count] = term;
    this.dataLens[this.count] = dataLen;
    this.count++;
  }

  /** Release unused index capacity (a sealed segment never grows again). */
  trim(): void {
    const cap = Math.max(16, this.count);
    if (cap >= this.offsets.length) return;
    this.offsets = this.offsets.slice(0, cap);
    this.terms = this.terms.slice(0, cap);
    this.dataLens = this.dataLens.slice(0, cap);
  }

  private grow(): void {
    const cap = this.offsets.length * 2;
    const o = new Float64Array(cap);
    o.set(this.offsets);
    const t = new Float64Array(cap);
    t.set(this.terms);
    const d = new Uint32Array(cap);
    d.set(this.dataLens);
    this.offsets = o;
    this.terms = t;
    this.dataLens = d;
  }

  private slot(index: number): number {
    const k = index - this.firstIndex;
    assert(k >= 0 && k < this.count, `segment ${this.path} holds [${this.firstIndex}, ${this.lastIndex}], asked for ${index}`);
    return k;
  }

  offsetOf(index: number): number {
    return this.offsets[this.slot(index)] as number;
  }

  termOf(index: number): number {
    return this.terms[this.slot(index)] as number;
  }

  dataLenOf(index: number): number {
    return this.dataLens[this.slot(index)] as number;
  }

  /** Forget entries ≥ index (the file is truncated separately). */
  truncateFrom(index: number): void {
    assert(
      index >= this.firstIndex && index <= this.lastIndex + 1,
      `truncateFrom(${index}) outside [${this.firstIndex}, ${this.lastIndex + 1}]`,
    );
    this.count = index - this.firstIndex;
  }
}
