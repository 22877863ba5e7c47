/**
 * CRC32C (plain and LevelDB-masked) and xxHash64 against published vectors and against simple
 * reference implementations.
 */
import fc from 'fast-check';
import { crc32c, crc32cImplementation, crc32cJs, maskCrc32c, unmaskCrc32c } from '../../src/util/crc32c';
import { xxhash64, xxhash64Low32 } from '../../src/util/xxhash64';

/** Bit-at-a-time CRC-32C, the definition. */
function crc32cRef(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('matches the check value and the RFC 3720 (iSCSI) vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
  });

  it('equals the bitwise definition for any input, and extends incrementally', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
        expect(crc32c(a)).toBe(crc32cRef(a));
        const ab = Buffer.concat([a, b]);
        expect(crc32c(b, crc32c(a))).toBe(crc32c(ab));
      }),
      { numRuns: 300 },
    );
  });

  it('the native (SIMD) and portable implementations agree, on long inputs and chained', () => {
    // On linux-x64 the prebuilt binary must load: verify's speed depends on it.
    if (process.platform === 'linux' && process.arch === 'x64') expect(crc32cImplementation).toBe('native');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 5000 }), fc.integer({ min: 0, max: 0xffffffff }), (a, init) => {
        expect(crc32c(a, init)).toBe(crc32cJs(a, init));
        const u8 = new Uint8Array(a.buffer, 0, a.length); // a plain Uint8Array, not a Buffer
        expect(crc32c(u8)).toBe(crc32cRef(a));
      }),
      { numRuns: 200 },
    );
  });

  it('masks as LevelDB does and unmasks back', () => {
    const c = crc32c(Buffer.from('foo'));
    expect(maskCrc32c(c)).not.toBe(c);
    expect(maskCrc32c(maskCrc32c(c))).not.toBe(c);
    expect(unmaskCrc32c(maskCrc32c(c))).toBe(c);
    expect(unmaskCrc32c(unmaskCrc32c(maskCrc32c(maskCrc32c(c))))).toBe(c);
    // ((c >> 15) | (c << 17)) + 0xa282ead8 mod 2^32
    expect(maskCrc32c(0)).toBe(0xa282ead8);
    expect(maskCrc32c(0x00008000)).toBe((1 + 0xa282ead8) >>> 0);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (x) => unmaskCrc32c(maskCrc32c(x)) === x));
  });
});

describe('xxhash64', () => {
  it('matches published XXH64 (seed 0) vectors', () => {
    expect(xxhash64(Buffer.alloc(0)).toString(16)).toBe('ef46db3751d8e999');
    expect(xxhash64(Buffer.from('a')).toString(16)).toBe('d24ec4f1a98c6e5b');
    expect(xxhash64(Buffer.from('abc')).toString(16)).toBe('44bc2cf5ad770999');
    expect(xxhash64(Buffer.from('The quick brown fox jumps over the lazy dog')).toString(16).padStart(16, '0')).toBe(
      '0b242d361fda71bc',
    );
    expect(xxhash64Low32(Buffer.from('abc'))).toBe(0xad770999);
  });

  it('agrees with the xxhash-wasm package on random inputs of every length class', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const init = require('xxhash-wasm') as () => Promise<{ h64Raw(b: Uint8Array, seed?: bigint): bigint }>;
    const wasm = await init();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (b, seed) => {
        expect(xxhash64(b)).toBe(wasm.h64Raw(b, 0n));
        expect(xxhash64(b, seed)).toBe(wasm.h64Raw(b, seed));
      }),
      { numRuns: 300 },
    );
  });
});
