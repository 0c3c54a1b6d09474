/**
 * Deterministic randomness for the seeder: a small fast PRNG (sfc32), a Zipf-like sampler
 * and index-addressable ids, so the same seed always yields the same history and any
 * product, customer or order id can be recomputed from its index without replaying.
 */

/** A seeded pseudo-random source; every method is deterministic for a given seed and call order. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** A random version-4 UUID string. */
  uuid(): string;
}

/** murmur3's 32-bit finalizer: a bijection on uint32 with good avalanche. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

function formatUuid(a: number, b: number, c: number, d: number): string {
  const w1 = hex8(a);
  const w2 = hex8(b);
  const w3 = hex8(((c & 0x3fffffff) | 0x80000000) >>> 0);
  const w4 = hex8(d);
  return `${w1}-${w2.slice(0, 4)}-4${w2.slice(5, 8)}-${w3.slice(0, 4)}-${w3.slice(4)}${w4}`;
}

/** Creates a seeded PRNG (sfc32 seeded through fmix32; period ≈ 2^128). */
export function createRandom(seed: number, salt = ""): Random {
  const base = fmix32(seed ^ hashString(salt));
  let a = fmix32(base ^ 0x9e3779b9);
  let b = fmix32(base ^ 0x243f6a88);
  let c = fmix32(base ^ 0xb7e15162);
  let d = 1;
  const u32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = (): number => u32() / 4294967296;
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    uuid: () => formatUuid(u32(), u32(), u32(), u32()),
  };
}

/** A deterministic UUID for the index-th entity of a kind ("product", "order", ...) under a seed; distinct per index. */
export function seedId(seed: number, kind: string, index: number): string {
  const key = fmix32(seed ^ hashString(kind));
  const first = fmix32((index ^ key) >>> 0); // bijective in index: ids never collide within a kind
  return formatUuid(first, fmix32(first ^ key ^ 0x68e31da4), fmix32(first + key + 0x1b56c4e9), fmix32(first ^ 0x5bd1e995 ^ index));
}

/** Samples ranks 0..n-1 with probability ∝ 1/(rank+1)^s (Zipf-like); O(log n) per draw. */
export function zipfSampler(n: number, s: number): (random: Random) => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let rank = 0; rank < n; rank++) {
    total += 1 / Math.pow(rank + 1, s);
    cdf[rank] = total;
  }
  return (random) => {
    const target = random.next() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** A deterministic permutation of 0..n-1 (Fisher–Yates). */
export function shuffledIndexes(n: number, random: Random): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = random.int(0, i);
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}
