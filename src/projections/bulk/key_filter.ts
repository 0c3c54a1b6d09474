/**
 * A Bloom filter of strings: "maybe present" or "surely absent". A bulk build of tables
 * that were empty when it started keeps the keys of the rows it wrote and then let go of
 * here, so a key it has never written needs no lookup in PostgreSQL (a fresh build of
 * 384,000 orders would otherwise look each new order up in vain).
 */
export class KeyFilter {
  readonly #bits: Uint32Array;
  readonly #mask: number;

  /** `bits` is rounded up to a power of two (default 2^23 bits, 1 MiB: ~2% false "maybe" at 1M keys). */
  constructor(bits = 1 << 23) {
    let size = 1 << 5;
    while (size < bits) size *= 2;
    this.#bits = new Uint32Array(size / 32);
    this.#mask = size - 1;
  }

  add(key: string): void {
    const [a, b] = hashes(key);
    for (let i = 0; i < PROBES; i++) {
      const bit = (a + i * b) & this.#mask;
      this.#bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  /** False only when the key was never added. */
  mayContain(key: string): boolean {
    const [a, b] = hashes(key);
    for (let i = 0; i < PROBES; i++) {
      const bit = (a + i * b) & this.#mask;
      if ((this.#bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

const PROBES = 6;

/** Two 32-bit hashes of a string (FNV-1a and a multiplicative mix over UTF-16 code units); the second is odd. */
function hashes(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x5bd1e995);
    b ^= b >>> 13;
  }
  return [a >>> 0, (b | 1) >>> 0];
}
