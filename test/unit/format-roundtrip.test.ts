/**
 * Round trips, chunk edges, the IV counter wrap, random access and the size arithmetic of the chunked
 * AES-GCM format.
 */
import { createDecipheriv, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import {
  CHUNK_SIZE,
  CIPHER_CHUNK_SIZE,
  ChunkedReader,
  DecryptStream,
  EncryptStream,
  HEADER_SIZE,
  TAG_SIZE,
  chunkNonce,
  ciphertextSize,
  decryptBuffer,
  encryptBuffer,
  plaintextSize,
  type RangeSource,
} from '../../src/format/chunked';
import { AuthenticationError, TrailingDataError, TruncatedError } from '../../src/format/errors';

const KEY = randomBytes(32);

async function collect(t: NodeJS.ReadWriteStream, pieces: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  t.on('data', (b: Buffer) => out.push(b));
  await pipeline(Readable.from(pieces), t as unknown as NodeJS.WritableStream);
  return Buffer.concat(out);
}

/** Splits buf at the given (unsorted, possibly repeated) points. */
function split(buf: Buffer, points: number[]): Buffer[] {
  const cuts = [...new Set(points.map((p) => Math.min(p, buf.length)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    parts.push(buf.subarray(prev, c));
    prev = c;
  }
  parts.push(buf.subarray(prev));
  return parts.filter((p) => p.length > 0);
}

function countingSource(buf: Buffer): RangeSource & { fetched: number; calls: [number, number][] } {
  const s = {
    size: buf.length,
    fetched: 0,
    calls: [] as [number, number][],
    read: async (a: number, b: number) => {
      s.fetched += b - a;
      s.calls.push([a, b]);
      return buf.subarray(a, b);
    },
  };
  return s;
}

const EDGE_SIZES = [0, 1, 100, 65535, 65536, 65537, 2 * 65536, 3 * 65536, 3 * 65536 + 5];

describe('format: round trips', () => {
  test.each(EDGE_SIZES)('size %i: buffer and stream APIs agree and round-trip', async (n) => {
    const plain = randomBytes(n);
    const iv = randomBytes(12);
    const enc = encryptBuffer(KEY, plain, { iv });
    expect(enc.length).toBe(ciphertextSize(n));
    expect(plaintextSize(enc.length)).toBe(n);
    // The final chunk is always shorter than 64 KiB of plaintext.
    expect((enc.length - HEADER_SIZE) % CIPHER_CHUNK_SIZE).toBeGreaterThanOrEqual(TAG_SIZE);
    const streamed = await collect(new EncryptStream(KEY, { iv }), split(plain, [1, 4096, 65536, 70000]));
    expect(streamed.equals(enc)).toBe(true);
    expect(decryptBuffer(KEY, enc).equals(plain)).toBe(true);
    expect((await collect(new DecryptStream(KEY), split(enc, [3, 19, 20, 65572, 65573]))).equals(plain)).toBe(true);
  });

  test('an empty plaintext is a 36-byte object; 65536 bytes is a full chunk plus an empty final chunk', () => {
    expect(encryptBuffer(KEY, Buffer.alloc(0)).length).toBe(36);
    expect(encryptBuffer(KEY, Buffer.alloc(65536)).length).toBe(20 + 65552 + 16);
  });

  test('property: random sizes and random split points round-trip through the streams', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 * CHUNK_SIZE + 17 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (n, encCuts, decCuts) => {
          const plain = randomBytes(n);
          const enc = await collect(new EncryptStream(KEY), split(plain, encCuts.map((c) => c % (n + 1))));
          expect(enc.length).toBe(ciphertextSize(n));
          const dec = await collect(new DecryptStream(KEY), split(enc, decCuts.map((c) => c % (enc.length + 1))));
          expect(dec.equals(plain)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('a tampered byte anywhere in the body is refused', async () => {
    const plain = randomBytes(3 * CHUNK_SIZE + 10);
    const enc = encryptBuffer(KEY, plain);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: HEADER_SIZE, max: enc.length - 1 }), async (pos) => {
        const bad = Buffer.from(enc);
        bad[pos] ^= 0x01;
        const chunk = Math.floor((pos - HEADER_SIZE) / CIPHER_CHUNK_SIZE);
        await expect(collect(new DecryptStream(KEY), [bad])).rejects.toMatchObject({ chunk });
        expect(() => decryptBuffer(KEY, bad)).toThrow(AuthenticationError);
      }),
      { numRuns: 30 },
    );
  });

  test('data after the final chunk is refused with TrailingDataError', async () => {
    const enc = encryptBuffer(KEY, randomBytes(70000));
    const bad = Buffer.concat([enc, Buffer.from('junk')]);
    expect(() => decryptBuffer(KEY, bad)).toThrow(TrailingDataError);
    await expect(collect(new DecryptStream(KEY), [bad])).rejects.toBeInstanceOf(TrailingDataError);
  });

  test('truncation at a chunk boundary and inside a chunk are refused', async () => {
    const enc = encryptBuffer(KEY, randomBytes(2 * CHUNK_SIZE + 5));
    const atEdge = enc.subarray(0, HEADER_SIZE + 2 * CIPHER_CHUNK_SIZE);
    // Cut so that fewer than 16 bytes of the final chunk remain (a cut leaving >= 16 is indistinguishable
    // from damage and is an authentication failure).
    const inside = enc.subarray(0, HEADER_SIZE + 2 * CIPHER_CHUNK_SIZE + 10);
    for (const b of [atEdge, inside]) {
      expect(() => decryptBuffer(KEY, b)).toThrow(TruncatedError);
      expect(() => plaintextSize(b.length)).toThrow(TruncatedError);
      await expect(collect(new DecryptStream(KEY), [b])).rejects.toBeInstanceOf(TruncatedError);
    }
  });
});

describe('format: IV counter', () => {
  const iv = Buffer.from('a1b2c3d4ffffffffffffffff', 'hex');

  test('the nonce of chunk 1 wraps bytes 4..11 to zero without touching bytes 0..3', () => {
    expect(chunkNonce(iv, 0).equals(iv)).toBe(true);
    expect(chunkNonce(iv, 1).toString('hex')).toBe('a1b2c3d40000000000000000');
    expect(chunkNonce(iv, 3).toString('hex')).toBe('a1b2c3d40000000000000002');
    expect(chunkNonce(Buffer.from('00000000000000000000ffff', 'hex'), 1).toString('hex')).toBe('000000000000000000010000');
  });

  test('chunk 1 of a real object is sealed under the wrapped nonce, and the object round-trips', async () => {
    const plain = randomBytes(CHUNK_SIZE + 1000);
    const enc = await collect(new EncryptStream(KEY, { iv }), [plain]);
    // Open chunk 1 by hand with the expected nonce.
    const c1 = enc.subarray(HEADER_SIZE + CIPHER_CHUNK_SIZE);
    const d = createDecipheriv('aes-256-gcm', KEY, Buffer.from('a1b2c3d40000000000000000', 'hex'));
    d.setAuthTag(c1.subarray(c1.length - TAG_SIZE));
    const p1 = Buffer.concat([d.update(c1.subarray(0, c1.length - TAG_SIZE)), d.final()]);
    expect(p1.equals(plain.subarray(CHUNK_SIZE))).toBe(true);
    expect(enc.subarray(8, 20).equals(iv)).toBe(true);
    expect(decryptBuffer(KEY, enc).equals(plain)).toBe(true);
    expect((await collect(new DecryptStream(KEY), [enc])).equals(plain)).toBe(true);
  });
});

describe('format: random access', () => {
  const n = 5 * CHUNK_SIZE + 1234;
  const plain = randomBytes(n);
  const enc = encryptBuffer(KEY, plain);

  test('random ranges equal plaintext slices', async () => {
    const r = new ChunkedReader(countingSource(enc), KEY);
    expect(await r.open()).toBe(n);
    await fc.assert(
      fc.asyncProperty(fc.nat(n), fc.nat(n), async (a, b) => {
        const [s, e] = a <= b ? [a, b] : [b, a];
        expect((await r.read(s, e)).equals(plain.subarray(s, e))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  test('reads only the chunks a range needs', async () => {
    const src = countingSource(enc);
    const r = new ChunkedReader(src, KEY);
    await r.open();
    const afterOpen = src.fetched;
    expect(afterOpen).toBe(HEADER_SIZE);
    // Inside chunk 2 only.
    await r.read(2 * CHUNK_SIZE + 10, 2 * CHUNK_SIZE + 20);
    expect(src.fetched - afterOpen).toBe(CIPHER_CHUNK_SIZE);
    // Straddling chunks 3 and 4.
    const before = src.fetched;
    await r.read(4 * CHUNK_SIZE - 5, 4 * CHUNK_SIZE + 5);
    expect(src.fetched - before).toBe(2 * CIPHER_CHUNK_SIZE);
    // The final short chunk.
    const before2 = src.fetched;
    expect((await r.read(n - 3, n)).equals(plain.subarray(n - 3))).toBe(true);
    expect(src.fetched - before2).toBe(1234 + TAG_SIZE);
  });

  test('a damaged chunk is reported only when a range touches it', async () => {
    const bad = Buffer.from(enc);
    bad[HEADER_SIZE + 3 * CIPHER_CHUNK_SIZE + 7] ^= 0x80;
    const r = new ChunkedReader(countingSource(bad), KEY);
    expect((await r.read(0, 100)).equals(plain.subarray(0, 100))).toBe(true);
    await expect(r.read(3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 1)).rejects.toMatchObject({
      chunk: 3,
      offset: HEADER_SIZE + 3 * CIPHER_CHUNK_SIZE,
    });
  });
});

describe('format: size arithmetic', () => {
  test('plaintextSize inverts ciphertextSize', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (p) => {
        expect(plaintextSize(ciphertextSize(p))).toBe(p);
      }),
      { numRuns: 2000 },
    );
    for (const p of EDGE_SIZES) expect(plaintextSize(ciphertextSize(p))).toBe(p);
  });

  test('sizes no writer produces are truncation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 }), (k) => {
        const body = k * CIPHER_CHUNK_SIZE + (k % TAG_SIZE);
        expect(() => plaintextSize(HEADER_SIZE + body)).toThrow(TruncatedError);
      }),
    );
  });
});

describe('format: chunkNonce against BigInt arithmetic', () => {
  test('random IVs and chunk indexes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.maxSafeNat(), (ivBytes, i) => {
        const iv = Buffer.from(ivBytes);
        const want = Buffer.from(iv);
        want.writeBigUInt64BE((iv.readBigUInt64BE(4) + BigInt(i)) % (1n << 64n), 4);
        expect(chunkNonce(iv, i).equals(want)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
