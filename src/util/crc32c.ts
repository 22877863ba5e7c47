/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven slicing-by-8.
 *
 * Used for SST block trailers (LevelDB/RocksDB/Pebble store it "masked", see maskCrc32c) and by the
 * GCP KMS integrity fields (plain, unmasked CRC32C).
 */

const POLY = 0x82f63b78;

/** 8 tables of 256 entries: T[k][b] is the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[i];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + i] = c >>> 0;
    }
  }
  return t;
})();

/**
 * The portable implementation (and the reference the native one is tested against). Extends a CRC-32C
 * over `buf`; `init` is a previous result (default 0, i.e. a fresh CRC).
 */
export function crc32cJs(buf: Uint8Array, init = 0): number {
  const t = TABLES;
  let crc = ~init >>> 0;
  let i = 0;
  const n = buf.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const lo = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ crc;
    const hi = buf[i + 4] | (buf[i + 5] << 8) | (buf[i + 6] << 16) | (buf[i + 7] << 24);
    crc =
      t[7 * 256 + (lo & 0xff)] ^
      t[6 * 256 + ((lo >>> 8) & 0xff)] ^
      t[5 * 256 + ((lo >>> 16) & 0xff)] ^
      t[4 * 256 + (lo >>> 24)] ^
      t[3 * 256 + (hi & 0xff)] ^
      t[2 * 256 + ((hi >>> 8) & 0xff)] ^
      t[1 * 256 + ((hi >>> 16) & 0xff)] ^
      t[hi >>> 24];
    i += 8;
  }
  while (i < n) {
    crc = t[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
    i++;
  }
  return ~crc >>> 0;
}

const MASK_DELTA = 0xa282ead8;

/** LevelDB/RocksDB/Pebble CRC masking: rotate right by 15 bits and add a constant (mod 2^32). */
export function maskCrc32c(crc: number): number {
  const rot = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rot + MASK_DELTA) >>> 0;
}

/** Inverse of maskCrc32c. */
export function unmaskCrc32c(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

type NativeCrc32c = (input: Buffer, initialState?: number) => number;

/**
 * The SIMD implementation from @node-rs/crc32 (a prebuilt binary shipped in the npm package), about six
 * times faster than crc32cJs; verify spends much of its time on SST block checksums. Falls back to
 * crc32cJs where no binary exists for the platform.
 */
const native: NativeCrc32c | undefined = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const m = require('@node-rs/crc32') as { crc32c?: NativeCrc32c };
    const f = m.crc32c;
    // Self-check against the standard check value before trusting it.
    return f && f(Buffer.from('123456789')) === 0xe3069283 ? f : undefined;
  } catch {
    return undefined;
  }
})();

/** Which implementation crc32c uses ('native' or 'js'), for diagnostics and tests. */
export const crc32cImplementation: 'native' | 'js' = native ? 'native' : 'js';

/**
 * Extend a CRC-32C over `buf`. `init` is a previous result (default 0, i.e. a fresh CRC), so
 * crc32c(b, crc32c(a)) === crc32c(concat(a, b)). Returns an unsigned 32-bit number.
 */
export function crc32c(buf: Uint8Array, init = 0): number {
  if (!native || buf.length < 64) return crc32cJs(buf, init);
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  return native(b, init) >>> 0;
}
