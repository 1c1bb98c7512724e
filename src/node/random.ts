/**
 * A seeded pseudo-random source for the core's election jitter.
 *
 * Why seeded: the core takes randomness as an injected function so runs can be replayed; in
 * production the seed comes from the OS (crypto) and is logged, so a surprising election
 * pattern can still be reproduced in the simulator.
 */
import { randomBytes } from 'node:crypto';

/** A fresh 32-bit seed from the OS random source. */
export function randomSeed(): number {
  return randomBytes(4).readUInt32LE(0);
}

/** mulberry32: a tiny, fast generator with a 32-bit state; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
