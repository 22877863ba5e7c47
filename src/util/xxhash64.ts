/**
 * xxHash64 (XXH64), pure TypeScript on BigInt, synchronous. Correct for any input; throughput is
 * a few tens of MB/s, which is enough for SST block checksums (blocks are KiB-sized and tables
 * with xxHash64 block checksums are rare: CockroachDB writes CRC32C).
 */

const M64 = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & M64;
}

function round(acc: bigint, lane: bigint): bigint {
  acc = (acc + lane * P2) & M64;
  acc = rotl(acc, 31n);
  return (acc * P1) & M64;
}

function mergeRound(acc: bigint, val: bigint): bigint {
  acc ^= round(0n, val);
  return (acc * P1 + P4) & M64;
}

function read64(b: Uint8Array, i: number): bigint {
  const lo = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
  const hi = (b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function read32(b: Uint8Array, i: number): bigint {
  return BigInt((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0);
}

/** XXH64 of `input` with `seed` (default 0). Returns an unsigned 64-bit bigint. */
export function xxhash64(input: Uint8Array, seed: bigint = 0n): bigint {
  const len = input.length;
  let i = 0;
  let h: bigint;
  seed &= M64;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M64;
    let v2 = (seed + P2) & M64;
    let v3 = seed;
    let v4 = (seed - P1) & M64;
    const limit = len - 32;
    while (i <= limit) {
      v1 = round(v1, read64(input, i));
      v2 = round(v2, read64(input, i + 8));
      v3 = round(v3, read64(input, i + 16));
      v4 = round(v4, read64(input, i + 24));
      i += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = (seed + P5) & M64;
  }
  h = (h + BigInt(len)) & M64;
  while (i + 8 <= len) {
    h ^= round(0n, read64(input, i));
    h = (rotl(h, 27n) * P1 + P4) & M64;
    i += 8;
  }
  if (i + 4 <= len) {
    h ^= (read32(input, i) * P1) & M64;
    h = (rotl(h, 23n) * P2 + P3) & M64;
    i += 4;
  }
  while (i < len) {
    h ^= (BigInt(input[i]) * P5) & M64;
    h = (rotl(h, 11n) * P1) & M64;
    i++;
  }
  h ^= h >> 33n;
  h = (h * P2) & M64;
  h ^= h >> 29n;
  h = (h * P3) & M64;
  h ^= h >> 32n;
  return h;
}

/** Low 32 bits of XXH64 (seed 0), as Pebble/RocksDB store it in a block trailer. */
export function xxhash64Low32(input: Uint8Array): number {
  return Number(xxhash64(input) & 0xffffffffn);
}
