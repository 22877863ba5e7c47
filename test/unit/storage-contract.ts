/**
 * The ObjectStore contract, run against every store (local, S3 via s3rver, GCS via the emulator) by
 * storage-local/s3/gcs.test.ts. Not a test file itself (no .test.ts suffix).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { StorageError } from '../../src/errors';
import type { ObjectStore } from '../../src/storage/object-store';

export async function collect(it: AsyncIterable<{ key: string; size: number }>): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  for await (const o of it) out.push(o);
  return out;
}

export async function streamToBuffer(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/**
 * A deterministic pseudo-random stream of `size` bytes (AES-CTR of zeros), produced lazily so the
 * source never holds the object; sha256 is complete once the stream has ended.
 */
export function generatedStream(size: number, chunk = 1 << 20): { stream: Readable; sha256: () => string } {
  const { createCipheriv } = require('node:crypto') as typeof import('node:crypto');
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const h = createHash('sha256');
  const zeros = Buffer.alloc(chunk);
  let left = size;
  const stream = new Readable({
    highWaterMark: chunk,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, left);
      left -= n;
      const out = cipher.update(zeros.subarray(0, n));
      h.update(out);
      this.push(out);
    },
  });
  let digest: string | undefined;
  return { stream, sha256: () => (digest ??= h.digest('hex')) };
}

export async function sha256OfStream(r: Readable): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of r) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { sha256: h.digest('hex'), bytes };
}

let gcFn: (() => void) | undefined;
/** A handle on V8's gc() without --expose-gc on the command line. */
function forceGc(): () => void {
  if (!gcFn) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('node:v8').setFlagsFromString('--expose_gc');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    gcFn = require('node:vm').runInNewContext('gc') as () => void;
  }
  return gcFn;
}

/**
 * Samples live memory (heap + external buffers, after a full GC, so garbage not yet collected does
 * not count) while fn runs; returns fn's result and the peak growth in bytes.
 */
export async function peakMemoryDuring<T>(fn: () => Promise<T>): Promise<{ result: T; peakGrowth: number }> {
  const gc = forceGc();
  const used = () => {
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const base = used();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, used());
  }, 500);
  try {
    const result = await fn();
    return { result, peakGrowth: peak - base };
  } finally {
    clearInterval(timer);
  }
}

export interface ContractEnv {
  store: () => ObjectStore;
  /** How many objects the pagination test writes (must exceed the store's page size). */
  paginationCount: number;
}

export function storeContract(label: string, env: ContractEnv): void {
  describe(`${label}: ObjectStore contract`, () => {
    const data = pattern(100_003, 3);

    test('write a buffer, stat and read it back', async () => {
      const s = env.store();
      await s.write('c/obj.bin', data);
      expect(await s.stat('c/obj.bin')).toEqual({ key: 'c/obj.bin', size: data.length });
      expect((await s.read('c/obj.bin')).equals(data)).toBe(true);
    });

    test('an empty object', async () => {
      const s = env.store();
      await s.write('c/empty', Buffer.alloc(0));
      expect(await s.stat('c/empty')).toEqual({ key: 'c/empty', size: 0 });
      expect((await s.read('c/empty')).length).toBe(0);
      expect((await streamToBuffer(await s.createReadStream('c/empty'))).length).toBe(0);
    });

    test('list by prefix: recursive, ordered, no partial-segment leaks beyond the prefix string', async () => {
      const s = env.store();
      for (const k of ['l/a/2', 'l/a/1', 'l/a/b/3', 'l/ab/4', 'l/b/5']) await s.write(k, Buffer.from(k));
      expect((await collect(s.list('l/a/'))).map((o) => o.key)).toEqual(['l/a/1', 'l/a/2', 'l/a/b/3']);
      expect((await collect(s.list('l/a'))).map((o) => o.key)).toEqual(['l/a/1', 'l/a/2', 'l/a/b/3', 'l/ab/4']);
      expect((await collect(s.list('l/'))).map((o) => o.key)).toEqual(['l/a/1', 'l/a/2', 'l/a/b/3', 'l/ab/4', 'l/b/5']);
      expect(await collect(s.list('l/zzz'))).toEqual([]);
      const all = await collect(s.list(''));
      expect(all.find((o) => o.key === 'l/b/5')).toEqual({ key: 'l/b/5', size: 5 });
    });

    test('list paginates past the page size', async () => {
      const s = env.store();
      const n = env.paginationCount;
      const keys = Array.from({ length: n }, (_, i) => `p/${String(i).padStart(5, '0')}`);
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < keys.length) {
            const k = keys[next++];
            await s.write(k, Buffer.from(k));
          }
        }),
      );
      const listed = await collect(s.list('p/'));
      expect(listed.length).toBe(n);
      expect(listed.map((o) => o.key)).toEqual(keys);
      expect(listed.every((o) => o.size === 7)).toBe(true);
    });

    test('readRange edge cases', async () => {
      const s = env.store();
      await s.write('r/obj', data);
      const n = data.length;
      expect((await s.readRange('r/obj', 0, 0)).length).toBe(0);
      expect((await s.readRange('r/obj', 0, n)).equals(data)).toBe(true);
      expect((await s.readRange('r/obj', 1, 2)).equals(data.subarray(1, 2))).toBe(true);
      expect((await s.readRange('r/obj', 4096, 70_000)).equals(data.subarray(4096, 70_000))).toBe(true);
      expect((await s.readRange('r/obj', n - 10, n + 100)).equals(data.subarray(n - 10))).toBe(true);
      expect((await s.readRange('r/obj', n + 5, n + 10)).length).toBe(0);
    });

    test('createReadStream: whole, ranged, range past the end', async () => {
      const s = env.store();
      await s.write('st/obj', data);
      const n = data.length;
      expect((await streamToBuffer(await s.createReadStream('st/obj'))).equals(data)).toBe(true);
      expect((await streamToBuffer(await s.createReadStream('st/obj', { start: 10, end: 20_010 }))).equals(data.subarray(10, 20_010))).toBe(true);
      expect((await streamToBuffer(await s.createReadStream('st/obj', { start: n - 3, end: n + 50 }))).equals(data.subarray(n - 3))).toBe(true);
      expect((await streamToBuffer(await s.createReadStream('st/obj', { start: 7, end: 7 }))).length).toBe(0);
    });

    test('write from a stream replaces the object whole', async () => {
      const s = env.store();
      await s.write('w/obj', Buffer.from('old contents'));
      const chunks = [pattern(70_000, 5), pattern(1, 6), pattern(33_333, 7)];
      await s.write('w/obj', Readable.from(chunks));
      expect((await s.read('w/obj')).equals(Buffer.concat(chunks))).toBe(true);
    });

    test('a failing source stream leaves no object behind', async () => {
      const s = env.store();
      const src = new Readable({
        read() {
          this.push(pattern(1000, 9));
          this.destroy(new Error('source broke'));
        },
      });
      await expect(s.write('w/broken', src)).rejects.toThrow();
      expect(await s.stat('w/broken')).toBeUndefined();
    });

    test('delete; deleting a missing object is fine', async () => {
      const s = env.store();
      await s.write('d/obj', Buffer.from('x'));
      await s.delete('d/obj');
      expect(await s.stat('d/obj')).toBeUndefined();
      await expect(s.delete('d/obj')).resolves.toBeUndefined();
      expect((await collect(s.list('d/'))).length).toBe(0);
    });

    test('not found: StorageError with exit 4 naming the object; stat is undefined', async () => {
      const s = env.store();
      expect(await s.stat('nf/missing')).toBeUndefined();
      for (const op of [() => s.read('nf/missing'), () => s.readRange('nf/missing', 0, 10), () => s.createReadStream('nf/missing')]) {
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StorageError);
        expect((err as StorageError).exitCode).toBe(4);
        expect((err as StorageError).message).toContain('nf/missing');
        expect((err as StorageError).message).toMatch(/not found/i);
      }
    });
  });
}
