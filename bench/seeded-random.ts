/**
 * A seeded PRNG for the benches (mulberry32): floats in [0, 1), the same sequence for the same seed. Not the
 * `seed * 1103515245 + 12345` LCG in doubles the benches used before: its products pass 2^53, lose their low bits,
 * and the sequence falls into a cycle of 15,824 values — a million "random" changes were that cycle repeated.
 */
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
